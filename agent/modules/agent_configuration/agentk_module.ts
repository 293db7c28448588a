// agentk side of the agent configuration: one GetConfiguration stream to kas, each configuration
// it delivers published to the other modules.
import type { AgentkModule } from '../../module/modagent';
import { watchAgentConfiguration } from './agentk';

export const agentConfigurationAgentModule: AgentkModule = {
  name: 'agent_configuration',
  async start({ kas, agentMeta, configuration, logger }) {
    const watch = watchAgentConfiguration({
      connection: kas,
      agentMeta,
      onConfig: (config, commit) => configuration.publish(config, commit),
      logger,
    });
    return { stop: async () => watch.stop() };
  },
};
