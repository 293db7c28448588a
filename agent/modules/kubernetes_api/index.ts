// The Kubernetes API proxy: kas side (createKubernetesApiProxy) and agentk side (the forwarder).
export {
  createKubernetesApiProxy,
  parseProxyCredential,
  KAS_HEADER_PREFIX,
  type KubernetesApiProxy,
  type KubernetesApiProxyOptions,
  type ProxyAuthorization,
  type ProxyCredential,
} from './server/proxy';
export { KAS_AUTH_ERROR_HEADER } from './server/status';
export { type AccessAs, type CallerUser, type Impersonation, impersonationHeaders } from './access_as';
export { createKubernetesApiForwarder } from './agent/forwarder';
export { KubernetesApiUpstream, KubeConfigError } from './agent/upstream';
