// The Kubernetes API proxy's service as agentk offers it through the tunnel.
export const KUBERNETES_API_SERVICE = 'workbench.kubernetes_api.KubernetesApi';
export const KUBERNETES_API_MAKE_REQUEST = `/${KUBERNETES_API_SERVICE}/MakeRequest`;
