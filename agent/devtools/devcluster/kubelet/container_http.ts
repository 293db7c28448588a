// What listens on a container's declared ports in the simulation: a small HTTP server, so
// `kubectl port-forward` and the extension's port-forward reach something real. Nothing opens
// a socket on this machine: each forwarded connection is an in-memory stream pair, one end
// handed to node's HTTP server. The answers (see docs/devcluster_pods.md, "Container ports"):
//   GET /bytes/<n>   n bytes of "x" (up to 1 GiB), for throughput measurements
//   POST /count      the number of body bytes received, for uploads
//   anything else    SIM_HTTP_BODY (if the container sets it) or a line naming pod, container,
//                    port, method and path
import http from 'node:http';
import { Duplex } from 'node:stream';
import { containerEnvironment, type ContainerSpec } from '../programs/index';
import type { KubeObject } from '../types';

const MAX_BYTES = 1 << 30;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

interface ContainerPort {
  containerPort?: number;
  protocol?: string;
  name?: string;
}

/** One end of an in-memory connection; what one end writes the other reads, with back-pressure. */
class PairEnd extends Duplex {
  peer!: PairEnd;
  private pendingWrite: (() => void) | undefined;

  override _read(): void {
    const release = this.peer.pendingWrite;
    this.peer.pendingWrite = undefined;
    release?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.push(chunk)) callback();
    else this.pendingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }

  // What node's HTTP server calls on a socket.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

function streamPair(): [PairEnd, PairEnd] {
  const a = new PairEnd({ allowHalfOpen: true });
  const b = new PairEnd({ allowHalfOpen: true });
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export class PortNotServedError extends Error {
  override name = 'PortNotServedError';
}

function containersOf(pod: KubeObject): ContainerSpec[] {
  const containers = (pod.spec as { containers?: unknown } | undefined)?.containers;
  return Array.isArray(containers) ? (containers as ContainerSpec[]) : [];
}

/** The running container that declares `port` (TCP), or undefined. */
export function containerServing(pod: KubeObject, port: number): ContainerSpec | undefined {
  const statuses =
    ((pod.status ?? {}) as { containerStatuses?: Array<{ name?: string; state?: { running?: unknown } }> }).containerStatuses ?? [];
  return containersOf(pod).find((container) => {
    const ports = ((container as { ports?: unknown }).ports ?? []) as ContainerPort[];
    const declared = Array.isArray(ports) && ports.some((p) => p?.containerPort === port && (p.protocol || 'TCP') === 'TCP');
    const running = statuses.find((s) => s.name === container.name)?.state?.running !== undefined;
    return declared && running;
  });
}

function answer(pod: KubeObject, container: ContainerSpec, port: number, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = req.url ?? '/';
  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  if (bytes && req.method === 'GET') {
    const total = Math.min(Number(bytes[1]), MAX_BYTES);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': total });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const chunk = CHUNK.subarray(0, Math.min(CHUNK.length, total - sent));
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (path === '/count' && req.method === 'POST') {
    let received = 0;
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${received}\n`));
    return;
  }
  const env = containerEnvironment(container);
  const body =
    env.SIM_HTTP_BODY !== undefined
      ? `${env.SIM_HTTP_BODY}\n`
      : `${pod.metadata.name ?? ''} ${container.name}:${port} ${req.method ?? 'GET'} ${path}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Server: 'devcluster-sim' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A connection to `port` of the pod, as the container's process would accept it; throws
 * PortNotServedError when no running container declares the port (a real node refuses it).
 */
export function connectToPodPort(pod: KubeObject, port: number): Duplex {
  const container = containerServing(pod, port);
  if (!container)
    throw new PortNotServedError(`connection refused: no running container of pod ${pod.metadata.name ?? ''} listens on port ${port}`);
  const server = http.createServer((req, res) => answer(pod, container, port, req, res));
  const [client, serverSide] = streamPair();
  server.emit('connection', serverSide);
  return client;
}
