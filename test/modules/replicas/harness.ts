// Real parts for the multi-replica tests: a redis-server of their own on a free loopback port,
// several kas replicas started in-process (startKas) sharing one config repository and data dir,
// agentk replicas, and a small TCP load balancer in front of the replicas' agent listeners
// (round robin, skipping replicas that refuse), so agentk can reconnect to another replica.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startKas, type Kas } from '../../../agent/kas/index';
import type { Logger } from '../../../agent/internal/log';
import { TestRepository, deepMerge, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.launch();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
  }

  /** kill -9: nothing is saved (--save ''), as after a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Records every command Redis runs (MONITOR) until stop() returns them. */
  async recordCommands(): Promise<{ stop(): Promise<string[][]> }> {
    const client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true });
    await client.connect();
    const monitor = await client.monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
    return {
      stop: async () => {
        monitor.disconnect();
        client.disconnect();
        return seen;
      },
    };
  }

  /** Total calls of every command except INFO and CLIENT (the measurement's own). */
  async commandCalls(): Promise<number> {
    const client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true });
    await client.connect();
    try {
      const info = await client.info('commandstats');
      let total = 0;
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        if (!/^(info|client|hello)/.test(match[1]!)) total += Number(match[2]);
      }
      return total;
    } finally {
      client.disconnect();
    }
  }
}

export const SECRET = 'a-shared-secret-of-at-least-32-bytes-for-tests';
export const AGENT_CONFIG = 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n';

export interface Fleet {
  dir: string;
  repo: TestRepository;
  replicas: Kas[];
  /** `overrides` are merged into the replica's kascfg (e.g. private_api TLS); `logger` replaces the quiet one. */
  startReplica(overrides?: Record<string, unknown>, logger?: Logger): Promise<Kas>;
  remove(): void;
}

/** A config repo with agents alpha and beta, and a function to start replicas sharing it. */
export function prepareFleet(redis: RedisServer, options: { waitTimeout?: string; connectionsPerMinute?: number } = {}): Fleet {
  const temp = makeTempDir('multi-kas-');
  const repo = new TestRepository(temp.dir);
  repo.commit({ '.gitlab/agents/alpha/config.yaml': AGENT_CONFIG, '.gitlab/agents/beta/config.yaml': AGENT_CONFIG });
  const secretFile = path.join(temp.dir, 'private-api.secret');
  writeFileSync(secretFile, SECRET);
  const replicas: Kas[] = [];
  return {
    dir: temp.dir,
    repo,
    replicas,
    startReplica: async (overrides = {}, logger = testLogger()) => {
      const config = testKasConfig(
        repo.dir,
        path.join(temp.dir, 'data'),
        deepMerge(
          {
            redis: { server: { address: redis.address }, key_prefix: 'kas-test', tracker_refresh_period: '1m', tracker_ttl: '2m' },
            private_api: { listen: { address: '127.0.0.1:0' }, authentication_secret_file: secretFile },
            kas: { agent_wait_timeout: options.waitTimeout ?? '5s' },
            agent: { listen: { connections_per_token_per_minute: options.connectionsPerMinute ?? 40_000 } },
          },
          overrides,
        ),
      );
      const kas = await startKas(config, logger);
      replicas.push(kas);
      return kas;
    },
    remove: () => temp.remove(),
  };
}

/** Round robin over live backends; a backend that refuses the connection is skipped. */
export class TcpBalancer {
  private next = 0;
  private readonly server = net.createServer((client) => this.forward(client, 0));
  private readonly sockets = new Set<net.Socket>();
  address = '';

  constructor(public backends: string[]) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.address = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: net.Socket, attempt: number): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (attempt >= this.backends.length) return void client.destroy();
    const backend = this.backends[this.next++ % this.backends.length]!;
    const [host, port] = [backend.slice(0, backend.lastIndexOf(':')), Number(backend.slice(backend.lastIndexOf(':') + 1))];
    const upstream = net.connect(port, host);
    this.sockets.add(upstream);
    upstream.once('close', () => this.sockets.delete(upstream));
    upstream.once('error', () => {
      if (!upstream.readableEnded && client.bytesWritten === 0 && upstream.bytesRead === 0) {
        upstream.destroy();
        this.forward(client, attempt + 1);
      } else client.destroy();
    });
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
    });
  }
}

export function get(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Polls a condition (test-side only: waits for asynchronous state, not a product behaviour). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
