// Where a replica among several finds a tunnel: its own tunnels first (no Redis, no network:
// the steady-state path), then the replicas the tracker names, asked one after another through
// their private API; the first with an idle tunnel wins. A request that finds none waits for a
// tunnel registering here or for a notification that another replica got an idle one.
import type { AgentIdentity, Tunnel, TunnelFinder, TunnelRegistry, TunnelStream } from '../reverse_tunnel/server/registry';

export interface RemoteRouter {
  /** Replicas (private API URLs) the tracker says hold tunnels to the agent, from memory. */
  replicasWithTunnels(agentId: string): string[];
  claimRemoteTunnel(replicaUrl: string, agentId: string): Promise<Tunnel | undefined>;
  onIdleTunnelElsewhere(agentId: string, listener: () => void): () => void;
}

export class RoutingTunnelFinder implements TunnelFinder {
  private router: RemoteRouter | undefined;
  private readonly changeListeners = new Set<(agentId: string, announce: boolean) => void>();
  /** Agents another replica asked for while this one had no idle tunnel: announce the next one. */
  private readonly wantedElsewhere = new Set<string>();
  private readonly stopFollowingRegistrations: () => void;

  constructor(private readonly local: TunnelRegistry) {
    this.stopFollowingRegistrations = local.onRegister((identity, stream) => this.registered(identity, stream));
  }

  close(): void {
    this.stopFollowingRegistrations();
    this.changeListeners.clear();
  }

  /** Routing starts once the replica knows its peers; until then only local tunnels are used. */
  setRouter(router: RemoteRouter | undefined): void {
    this.router = router;
  }

  /**
   * Called with the agent id whenever a tunnel of that agent registers, is claimed or closes here;
   * `announce` when another replica is waiting for one (tell it even if nothing seems to change).
   */
  onLocalChange(listener: (agentId: string, announce: boolean) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private registered(identity: AgentIdentity, stream: TunnelStream): void {
    const changed = () => this.notifyChange(identity.agentId, false);
    stream.once('close', changed);
    stream.once('end', changed);
    // Handed straight to a waiter here, the stream is no news for the replica that asked.
    const announce = this.wantedElsewhere.has(identity.agentId) && this.localTunnels(identity.agentId).idle > 0;
    if (announce) this.wantedElsewhere.delete(identity.agentId);
    this.notifyChange(identity.agentId, announce);
  }

  private notifyChange(agentId: string, announce: boolean): void {
    for (const listener of this.changeListeners) listener(agentId, announce);
  }

  /** A local claim may take the last idle tunnel: the tracker decides whether that is news. */
  private claimedLocally(agentId: string, claim: Promise<Tunnel>): Promise<Tunnel> {
    return claim.then((tunnel) => {
      this.notifyChange(agentId, false);
      return tunnel;
    });
  }

  /** Tunnels (idle, busy) this replica holds for the agent. */
  localTunnels(agentId: string): { idle: number; busy: number } {
    const counts = this.local.counts().find((c) => c.agentId === agentId);
    return { idle: counts?.idle ?? 0, busy: counts?.busy ?? 0 };
  }

  /** An idle tunnel of this replica's own, right now, or undefined; for the private API. */
  async claimLocalTunnel(agentId: string): Promise<Tunnel | undefined> {
    if (this.localTunnels(agentId).idle === 0) {
      this.wantedElsewhere.add(agentId);
      return undefined;
    }
    return this.claimedLocally(agentId, this.local.findTunnel(agentId, 1_000));
  }

  hasIdleTunnel(agentId: string, method?: string): boolean {
    return this.local.hasIdleTunnel(agentId, method);
  }

  // `method` filters this replica's own streams; a remote claim takes any (the proxy checks its descriptor).
  findTunnel(agentId: string, timeoutMs: number, signal?: AbortSignal, method?: string): Promise<Tunnel> {
    const router = this.router;
    if (!router) return this.local.findTunnel(agentId, timeoutMs, signal, method);
    if (this.localTunnels(agentId).idle > 0) return this.claimedLocally(agentId, this.local.findTunnel(agentId, timeoutMs, signal, method));
    return this.routeOrWait(router, agentId, timeoutMs, signal, method);
  }

  /**
   * Asks the replicas the tracker names while already waiting for a tunnel of this replica's own:
   * a replica that died may hold the ask (a dial or a claim to a vanished host) until its timeout,
   * and agentk, reconnecting to this replica meanwhile, must not wait for that.
   */
  private routeOrWait(
    router: RemoteRouter,
    agentId: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    method: string | undefined,
  ): Promise<Tunnel> {
    return new Promise<Tunnel>((resolve, reject) => {
      const localWait = new AbortController();
      const onOuterAbort = () => localWait.abort(signal?.reason);
      signal?.addEventListener('abort', onOuterAbort, { once: true });
      let settled = false;
      let asking = false;
      const settle = () => {
        settled = true;
        stopListening();
        signal?.removeEventListener('abort', onOuterAbort);
      };
      // Asks the replicas once at a time; a notification while asking is covered by that ask.
      const ask = () => {
        if (settled || asking) return;
        asking = true;
        void tryReplicas(router, agentId).then((tunnel) => {
          asking = false;
          if (!tunnel) return;
          if (settled) return tunnel.done();
          settle();
          localWait.abort();
          resolve(tunnel);
        });
      };
      const stopListening = router.onIdleTunnelElsewhere(agentId, ask);
      this.local.findTunnel(agentId, timeoutMs, localWait.signal, method).then(
        (tunnel) => {
          if (settled) return tunnel.done();
          settle();
          resolve(tunnel);
        },
        (err: unknown) => {
          if (settled) return;
          settle();
          reject(err);
        },
      );
      ask();
    });
  }
}

async function tryReplicas(router: RemoteRouter, agentId: string): Promise<Tunnel | undefined> {
  for (const url of router.replicasWithTunnels(agentId)) {
    // A malformed URL in Redis (another replica's bad advertise_url) must not fail the request.
    const tunnel = await router.claimRemoteTunnel(url, agentId).catch(() => undefined);
    if (tunnel) return tunnel;
  }
  return undefined;
}
