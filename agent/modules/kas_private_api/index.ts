export { joinReplicaCluster, PrivateApiConfigError, type ReplicaCluster, type ReplicaClusterOptions } from './cluster';
export { RoutingTunnelRegistry, type RemoteRouter } from './routing_registry';
export { PrivateApiClient, MAX_IDLE_CONNECTIONS_PER_PEER, type PrivateApiClientOptions } from './client';
export { startPrivateApiServer, type PrivateApiServer, type PrivateApiServerOptions } from './server';
export { signPrivateApiToken, verifyPrivateApiToken, PrivateApiTokenError } from './token';
