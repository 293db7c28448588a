// agentk: keeps reverse HTTP/1.1 connections to kas open, by the tunnel pool's rules
// (reverse_tunnel/agent/pool.ts, streamsToOpen): at least minIdle idle (or dialing) connections,
// and no more than that while nothing is busy (at start); when requests eat into them,
// scaleUpStep more; at most maxStreams in all; failed dials wait per the backoff.
// Idle connections beyond minIdle close after idleTimeoutMs, closed by kas (agentk tells it the
// rules when it dials): kas hands connections out, so only kas can close one no request is on. A connection kas upgraded (exec,
// attach, port-forward) leaves the pool; kas recycles old ones by closing them.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Gauge } from 'prom-client';
import type { Logger } from '../../../internal/log';
import { processMetric } from '../../../internal/metrics';
import { Backoff, DEFAULT_BACKOFF } from '../../reverse_tunnel/agent/backoff';
import { DEFAULT_POOL_SETTINGS, streamsToOpen, type PoolSettings } from '../../reverse_tunnel/agent/pool';
import { isProbe } from '../protocol';
import { HttpTunnelRefusedError, type HttpTunnelDialer } from './dial';

type State = 'idle' | 'busy';

interface Entry {
  socket: Duplex;
  state: State;
}

export interface HttpTunnelPoolStats {
  dialing: number;
  idle: number;
  busy: number;
  /** false once kas refused the transport: agentk keeps to the gRPC tunnel. */
  offered: boolean;
}

const poolSources = new Set<() => HttpTunnelPoolStats>();
processMetric(
  'agentk_http_tunnel_connections',
  () =>
    new Gauge({
      name: 'agentk_http_tunnel_connections',
      help: 'Reverse HTTP/1.1 connections to kas (transport v2), by state (dialing, idle, busy).',
      labelNames: ['state'],
      collect() {
        this.reset();
        for (const source of poolSources) {
          const stats = source();
          this.inc({ state: 'dialing' }, stats.dialing);
          this.inc({ state: 'idle' }, stats.idle);
          this.inc({ state: 'busy' }, stats.busy);
        }
      },
    }),
);

export class HttpTunnelPool {
  private readonly settings: PoolSettings;
  private readonly entries = new Map<Duplex, Entry>();
  private readonly backoff: Backoff;
  private dialing = 0;
  private idle = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private offered = true;
  private readonly statsSource = () => this.stats();

  constructor(
    private readonly dialer: HttpTunnelDialer,
    private readonly server: http.Server,
    settings: Partial<PoolSettings>,
    private readonly logger: Logger,
  ) {
    this.settings = { ...DEFAULT_POOL_SETTINGS, ...settings, backoff: { ...DEFAULT_BACKOFF, ...settings.backoff } };
    this.backoff = new Backoff(this.settings.backoff);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res));
    server.on('upgrade', (req: http.IncomingMessage) => this.remove(req.socket));
  }

  start(): void {
    poolSources.add(this.statsSource);
    this.fill();
  }

  stats(): HttpTunnelPoolStats {
    return { dialing: this.dialing, idle: this.idle, busy: this.entries.size - this.idle, offered: this.offered };
  }

  stop(): void {
    this.stopped = true;
    poolSources.delete(this.statsSource);
    clearTimeout(this.retryTimer);
    for (const socket of [...this.entries.keys()]) socket.destroy();
  }

  private fill(): void {
    if (this.stopped || !this.offered || this.retryTimer) return;
    const busy = this.entries.size - this.idle;
    const count = streamsToOpen(
      { opening: this.dialing, idle: this.idle, busy, scheduled: 0, total: this.entries.size + this.dialing },
      this.settings,
    );
    for (let i = 0; i < count; i++) this.dialOne();
  }

  private dialOne(): void {
    this.dialing++;
    this.dialer.dial().then(
      (socket) => {
        this.dialing--;
        if (this.stopped) return void socket.destroy();
        this.backoff.markHealthy();
        this.add(socket);
        this.fill();
      },
      (err: unknown) => {
        this.dialing--;
        if (this.stopped) return;
        if (err instanceof HttpTunnelRefusedError && err.notOffered) {
          // A kas without the transport (or the reference's): the gRPC tunnel carries everything.
          this.offered = false;
          this.logger.info('kas does not offer the reverse HTTP/1.1 transport; using the gRPC tunnel only', { status: err.status });
          return;
        }
        this.scheduleRetry(err);
      },
    );
  }

  private scheduleRetry(err: unknown): void {
    if (this.retryTimer) return;
    const delayMs = this.backoff.nextDelayMs();
    this.logger.warn('reverse HTTP/1.1 connection to kas failed', { err, retryInMs: delayMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.fill();
    }, delayMs);
  }

  private add(socket: Duplex): void {
    const entry: Entry = { socket, state: 'busy' };
    this.entries.set(socket, entry);
    socket.once('close', () => this.remove(socket));
    this.makeIdle(entry);
    this.server.emit('connection', socket);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const entry = this.entries.get(req.socket);
    // A liveness probe leaves the connection idle: no replacement is dialed for it.
    if (!entry || isProbe(req.headers)) return;
    if (entry.state === 'idle') {
      entry.state = 'busy';
      this.idle--;
      this.fill();
    }
    res.once('finish', () => this.makeIdle(entry));
  }

  private makeIdle(entry: Entry): void {
    if (entry.state === 'idle' || !this.entries.has(entry.socket)) return;
    entry.state = 'idle';
    this.idle++;
  }

  /** Closed, or upgraded (then the request owns it). */
  private remove(socket: Duplex): void {
    const entry = this.entries.get(socket);
    if (!entry) return;
    this.entries.delete(socket);
    if (entry.state === 'idle') this.idle--;
    this.fill();
  }
}
