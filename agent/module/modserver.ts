// The contract between kas's core and its feature modules (the reference calls its counterpart
// modserver). A module declares a name and start(); the core hands each the same context and
// starts them in the order agent/kas/index.ts lists them, then stops them in reverse.
import type { Logger } from '../internal/log';
import type { KasConfig } from '../kascfg/kascfg';
import type { AgentRegistry } from '../modules/agent_registry/registry';
import type { ReadinessCheck } from '../modules/observability/server';
import type { DirectRoute } from '../modules/kubernetes_api/server/direct_route';
import type { AgentUpgradeHandler } from '../modules/reverse_tunnel/server/agent_server';
import type { GrpcServiceRegistrar } from '../modules/reverse_tunnel/server/grpc_server';
import type { TunnelFinder, TunnelRegistry } from '../modules/reverse_tunnel/server/registry';
import type { ShutdownStack } from './shutdown_stack';

export interface Stoppable {
  stop(): Promise<void>;
}

export interface KasModule {
  /** As in logs ({"module": name}) and the reference's module names. */
  readonly name: string;
  /** Registers what the module serves and starts what it runs; what it returns is stopped at shutdown. */
  start(context: KasModuleContext): Promise<Stoppable | void>;
}

export interface KasModuleContext {
  /** The whole kascfg; each module reads its own sections. */
  readonly config: KasConfig;
  /** Already carries {"module": name}. */
  readonly logger: Logger;
  readonly registry: AgentRegistry;
  /** Services on the agent listener (the port agentk dials); it opens once every module started. */
  readonly agentServer: {
    addService(register: (server: GrpcServiceRegistrar) => void): void;
    /** Takes agent connections that ask for this HTTP/1.1 upgrade protocol (lower case), e.g. kas-tunnel-v2. */
    addUpgrade(protocol: string, handler: AgentUpgradeHandler): void;
  };
  readonly tunnels: KasTunnels;
  /** The ports this kas listens on: readiness checks each, and startKas reports them. */
  readonly listeners: ListenerList;
  readonly readiness: KasReadiness;
  /** For steps to stop that start() cannot return (the returned Stoppable goes here too). */
  readonly shutdown: ShutdownStack;
}

export interface KasTunnels {
  /** This replica's own tunnel streams, as agentk registered them. */
  readonly local: TunnelRegistry;
  /** Where requests look for a tunnel: the local registry unless a module routes them elsewhere. */
  readonly finder: TunnelFinder;
  /** Sends every later findTunnel to `finder` (the replicas module routes across replicas). */
  useFinder(finder: TunnelFinder): void;
  /** Direct connections to agents the proxy tries before a tunnel stream (module http_tunnel); none by default. */
  readonly direct: DirectRoute;
  useDirect(route: DirectRoute): void;
}

export interface KasReadiness {
  /** A check for /readiness, listed after the listeners' in the order added. */
  add(check: () => ReadinessCheck | Promise<ReadinessCheck>): void;
  /** Every check: kas serving (not draining), each listener accepting connections, then the added ones. */
  report(): Promise<ReadinessCheck[]>;
}

export interface Listener {
  /** e.g. kubernetes_api_listener, as /readiness names it. */
  name: string;
  /** The bound host:port. */
  address: string;
  /** Base URL, when the listener serves HTTP. */
  url?: string;
  /** Connections accepted so far, when the listener counts them. */
  connectionsAccepted?(): number;
  /** false: /readiness does not connect to it (the observability listener answers the probe itself). */
  probed?: boolean;
}

export interface ListenerList {
  add(listener: Listener): void;
  find(name: string): Listener | undefined;
  all(): Listener[];
}
