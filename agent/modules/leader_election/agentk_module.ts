// agentk's leader election: one replica of an agent leads, through a coordination.k8s.io Lease
// in the pod's namespace; the others stand by and take over when the Lease expires. Other modules
// read the outcome from their context (leadership.isLeader / onLeaderChange). Every replica keeps
// its tunnels open whatever the outcome: kas may route a request to any of them.
import type { AgentkModule } from '../../module/modagent';
import { candidateIdentity, LeaseElector } from './elector';
import { leaderGauge } from './metrics';

export const leaderElectionAgentModule: AgentkModule = {
  name: 'leader_election',
  async start({ leadership, agentMeta, kubeConfig, logger }) {
    const { settings } = leadership;
    if (!settings.enabled || !agentMeta.podNamespace) {
      // One agentk outside a cluster has nobody to share leader-only work with.
      logger.info('leader election off: this replica leads', { reason: settings.enabled ? 'no pod namespace' : 'disabled' });
      leadership.publish(true);
      return;
    }
    const elector = new LeaseElector({
      kubeConfig,
      namespace: agentMeta.podNamespace,
      settings,
      identity: candidateIdentity(agentMeta.podName),
      onChange: (isLeader) => {
        leaderGauge.set({ name: settings.leaseName }, isLeader ? 1 : 0);
        leadership.publish(isLeader);
      },
      logger,
    });
    leaderGauge.set({ name: settings.leaseName }, 0);
    await elector.start();
    return { stop: () => elector.stop() };
  },
};
