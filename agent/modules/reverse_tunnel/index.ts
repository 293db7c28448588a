// The reverse tunnel: public API of both ends (see protocol.ts for the wire contract).
export { startAgentServer, type AgentServer, type AgentServerOptions, type AgentUpgradeHandler } from './server/agent_server';
export {
  TunnelRegistry,
  TunnelNotFoundError,
  TunnelWaitAbortedError,
  type AgentIdentity,
  type ConnectedAgent,
  type ReplicaInfo,
  type Tunnel,
} from './server/registry';
export { reverseTunnelService, type ReverseTunnelServiceOptions } from './server/service';
export { dialKas, parseKasAddress, KasAddressError, type KasConnection, type KasDialOptions } from './agent/dial';
export { TunnelPool, DEFAULT_POOL_SETTINGS, type PoolSettings, type PoolStats, type TunnelRequestHandler } from './agent/pool';
export { DEFAULT_BACKOFF, type BackoffSettings } from './agent/backoff';
