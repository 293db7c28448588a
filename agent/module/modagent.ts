// The contract between agentk's core and its feature modules (the reference calls its
// counterpart modagent). A module declares a name and start(); the core hands each the same
// context, starts them in the order agent/agentk/index.ts lists them, then opens the tunnel pool.
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { Logger } from '../internal/log';
import type { AgentConfig } from '../shared/agent_config/types';
import type { KasConnection } from '../modules/reverse_tunnel/agent/dial';
import type { PoolSettings, PoolStats } from '../modules/reverse_tunnel/agent/pool';
import type { TunnelService } from '../modules/reverse_tunnel/agent/services';
import type { ShutdownStack } from './shutdown_stack';
import type { ListenerList, Stoppable } from './modserver';

export type { Stoppable };

export interface AgentkModule {
  /** As in logs ({"module": name}) and the reference's module names. */
  readonly name: string;
  /** Registers what the module serves and starts what it runs; what it returns is stopped at shutdown. */
  start(context: AgentkModuleContext): Promise<Stoppable | void>;
}

/**
 * How kas's requests reach agentk: 'grpc' only the Connect streams; 'v2' also the reverse HTTP/1.1
 * connections (module http_tunnel), which kas prefers when it offers them.
 */
export type TunnelTransport = 'grpc' | 'v2';

export interface KasEndpoint {
  /** grpc://, grpcs://, ws:// or wss:// */
  address: string;
  token: string;
  caPem?: string;
  tlsServerName?: string;
  transport: TunnelTransport;
}

/** Who this agentk is, as kas learns it from every stream. */
export interface AgentMeta {
  version: string;
  podName: string;
  podNamespace: string;
  /**
   * One random id per agentk process, sent on every transport (tunnel descriptors, reverse
   * HTTP/1.1 dials): kas judges a process alive or dead as a whole, whichever transport noticed.
   */
  instanceId: string;
}

export interface AgentkModuleContext {
  readonly logger: Logger;
  readonly agentMeta: AgentMeta;
  /** The dialed connection to kas's agent listener (it carries the agent token); agentk never listens for kas. */
  readonly kas: KasConnection;
  /** Where and how to dial kas, for a transport that opens connections of its own (module http_tunnel). */
  readonly kasEndpoint: KasEndpoint;
  /** The tunnel pool's rules (idle minimum, batches, maximum, backoff), for every transport. */
  readonly poolSettings: Partial<PoolSettings>;
  /** The cluster agentk serves: in-cluster credentials or a kubeconfig. */
  readonly kubeConfig: KubeConfig;
  /** Services kas may call through the reverse tunnel; the tunnel pool opens after every module started. */
  readonly tunnelServices: { add(service: TunnelService): void };
  readonly tunnels: { stats(): PoolStats };
  readonly configuration: AgentConfigurations;
  /** Whether this replica is the leader (module leader_election); leader-only work asks it. */
  readonly leadership: Leadership;
  /** host:port for probes and metrics; null: none. */
  readonly observabilityAddress: string | null;
  /** The ports this agentk listens on (probes only: it never listens for kas). */
  readonly listeners: ListenerList;
  readonly shutdown: ShutdownStack;
}

/** The agent's configuration as kas sends it: published by one module, read by any. */
export interface AgentConfigurations {
  publish(config: AgentConfig, commit: string): void;
  onChange(listener: (config: AgentConfig, commit: string) => void): () => void;
  current(): { config: AgentConfig; commit: string } | undefined;
}

/**
 * Leadership among an agent's replicas (a coordination.k8s.io Lease, module leader_election).
 * Every replica keeps its tunnels open; only work that must run once per agent asks isLeader().
 */
export interface Leadership {
  isLeader(): boolean;
  /** Called with each change (true: this replica became the leader); returns an unsubscribe. */
  onLeaderChange(listener: (isLeader: boolean) => void): () => void;
  /** For the leader_election module only: the outcome of an election round. */
  publish(isLeader: boolean): void;
  readonly settings: LeaderElectionSettings;
}

export interface LeaderElectionSettings {
  /** The Lease's name in the pod's namespace. */
  leaseName: string;
  /** The reference's (client-go's) 15 s / 10 s / 2 s. */
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Off: this replica is the leader at once (one agentk outside a cluster, tests). */
  enabled: boolean;
}
