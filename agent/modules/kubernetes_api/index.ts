// The Kubernetes API proxy: kas side (createKubernetesApiProxy) and agentk side (the forwarder).
export {
  createKubernetesApiProxy,
  KAS_HEADER_PREFIX,
  type KubernetesApiProxy,
  type KubernetesApiProxyOptions,
  type ProxyAuthorization,
} from './server/proxy';
export { type AccessAs, type CallerUser, type Impersonation, impersonationHeaders } from './access_as';
export { createKubernetesApiForwarder } from './agent/forwarder';
export { KubernetesApiUpstream, KubeConfigError } from './agent/upstream';
