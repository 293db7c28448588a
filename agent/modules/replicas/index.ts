export { replicasModule } from './kas_module';
export { PrivateApiConfigError } from './join';
export { RoutingTunnelFinder, type RemoteRouter } from './routing';
export { PrivateApiClient, MAX_IDLE_CONNECTIONS_PER_PEER, type PrivateApiClientOptions } from './private_api/client';
export { startPrivateApiServer, type PrivateApiServer, type PrivateApiServerOptions } from './private_api/server';
export { signPrivateApiToken, verifyPrivateApiToken, PrivateApiTokenError } from './private_api/token';
