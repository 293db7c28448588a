// agentk side of the Kubernetes API proxy: serves MakeRequest through the tunnel by forwarding
// each request to the cluster's API server with agentk's own credentials (and access_as).
import type { AgentkModule } from '../../module/modagent';
import { createKubernetesApiForwarder } from './agent/forwarder';
import { KubernetesApiUpstream } from './agent/upstream';
import { KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from './rpc';

export const kubernetesApiAgentModule: AgentkModule = {
  name: 'kubernetes_api',
  async start({ kubeConfig, tunnelServices, logger }) {
    const upstream = new KubernetesApiUpstream(kubeConfig);
    tunnelServices.add({
      name: KUBERNETES_API_SERVICE,
      methods: [KUBERNETES_API_MAKE_REQUEST],
      handle: createKubernetesApiForwarder({ upstream, logger }),
    });
    return { stop: async () => upstream.close() };
  },
};
