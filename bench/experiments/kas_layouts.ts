// Experiment (issue 14): which HTTP/1.1 client layout on kas's side of the v2 tunnel costs least,
// with nothing of the product around it (no auth, pool rules, metrics). A bare "agentk" (back)
// dials BACK_CONNECTIONS TCP connections to a bare "kas" (front) and serves them with node:http
// (server.emit('connection', socket)), forwarding to the upstream with an undici Pool, as agentk
// does. The front takes client requests with node:http and sends each over an idle dialed-in
// socket with one of three clients, the only thing that differs between the runs:
//   undici  an undici Client per socket whose `connect` hands out the socket (the product's layout)
//   http    a node:http Agent per socket whose createConnection hands out the socket (ClientRequest,
//           Node's native llhttp)
//   raw     a hand-written HTTP/1.1 request head written on the socket, the response parsed with
//           Node's native llhttp (HTTPParser from _http_common) straight into the client's response
// Both ends filter hop-by-hop headers and append Via, as the product does, and hold the response
// corked until complete (the product does so for small responses of known length; no backpressure
// then, as no 'drain' comes while corked: this serves the benchmark's pod list only). Roles of the tunnel
// bench (bench/tunnel.bench.ts, TUNNEL_BENCH_LAYOUTS=1) measure them beside kubectl proxy.
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client, Pool, type Dispatcher } from 'undici';

export type KasLayout = 'undici' | 'http' | 'raw';

/** As many connections as agentk's pool holds under 50 concurrent requests. */
export const BACK_CONNECTIONS = 64;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const VIA = '1.1 kas-experiment';

/** The client's request headers as the front forwards them: a flat name/value list, Via appended. */
function forwardedRequestHeaders(req: http.IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name) && name !== 'authorization') out.push(name, raw[i + 1]!);
  }
  out.push('via', VIA);
  return out;
}

function forwardedResponseHeaders(raw: Array<string | Buffer>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString();
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString());
  }
  out.push('via', VIA);
  return out;
}

interface Sender {
  send(req: http.IncomingMessage, res: http.ServerResponse, done: () => void): void;
}

/** The dialed-in sockets, idle or busy; a request that finds none idle waits for one. */
class SocketPool {
  private readonly idle: Sender[] = [];
  private readonly waiting: Array<(sender: Sender) => void> = [];

  add(sender: Sender): void {
    this.release(sender);
  }

  take(use: (sender: Sender) => void): void {
    const sender = this.idle.pop();
    if (sender) use(sender);
    else this.waiting.push(use);
  }

  release(sender: Sender): void {
    const next = this.waiting.shift();
    if (next) next(sender);
    else this.idle.push(sender);
  }
}

function undiciSender(socket: net.Socket): Sender {
  let handedOut = false;
  const client = new Client('http://agent.experiment', {
    connect: (_options, callback) => {
      if (handedOut) return process.nextTick(callback, new Error('closed'), null);
      handedOut = true;
      process.nextTick(callback, null, socket as never);
    },
    pipelining: 1,
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 2 ** 31 - 1,
    keepAliveMaxTimeout: 2 ** 31 - 1,
  });
  return {
    send(req, res, done) {
      const handler: Dispatcher.DispatchHandler = {
        onConnect() {},
        onHeaders(status, rawHeaders, _resume, statusText) {
          res.writeHead(status, statusText, forwardedResponseHeaders(rawHeaders));
          res.cork();
          return true;
        },
        onData: (chunk) => {
          res.write(chunk);
          return true;
        },
        onComplete() {
          res.end();
          done();
        },
        onError() {
          res.destroy();
        },
      };
      client.dispatch({ method: req.method ?? 'GET', path: req.url ?? '/', headers: forwardedRequestHeaders(req), body: null }, handler);
    },
  };
}

function nodeHttpSender(socket: net.Socket): Sender {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  // The dialed-in socket is the agent's only connection: kept alive, reused for every request.
  agent.createConnection = () => socket;
  return {
    send(req, res, done) {
      const outgoing = http.request(
        // Headers as a flat list: node:http then adds none of its own, Host included.
        { agent, method: req.method, path: req.url, headers: ['host', 'agent.experiment', ...forwardedRequestHeaders(req)] },
        (incoming) => {
          res.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, forwardedResponseHeaders(incoming.rawHeaders));
          res.cork();
          incoming.on('data', (chunk: Buffer) => res.write(chunk));
          incoming.on('end', () => {
            res.end();
            done();
          });
        },
      );
      outgoing.on('error', () => res.destroy());
      outgoing.end();
    },
  };
}

// Node's own llhttp binding, the parser node:http runs on (not a public API: an experiment only).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HTTPParser } = require('_http_common') as { HTTPParser: HttpParserClass };
interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  [callback: number]: unknown;
}
interface HttpParserClass {
  new (): HttpParser;
  RESPONSE: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

function rawSender(socket: net.Socket): Sender {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
  let current: { res: http.ServerResponse; done: () => void } | undefined;
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[],
    _method: unknown,
    _url: unknown,
    status: number,
    statusText: string,
  ) => {
    current!.res.writeHead(status, statusText, forwardedResponseHeaders(headers));
    current!.res.cork();
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => current!.res.write(chunk);
  parser[HTTPParser.kOnMessageComplete] = () => {
    const { res, done } = current!;
    current = undefined;
    res.end();
    done();
  };
  socket.on('data', (data: Buffer) => {
    const result = parser.execute(data);
    if (result instanceof Error) socket.destroy(result);
  });
  return {
    send(req, res, done) {
      current = { res, done };
      const headers = forwardedRequestHeaders(req);
      let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\nhost: agent.experiment\r\n`;
      for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]!}: ${headers[i + 1]!}\r\n`;
      socket.write(`${head}\r\n`, 'latin1');
    },
  };
}

const SENDERS: Record<KasLayout, (socket: net.Socket) => Sender> = { undici: undiciSender, http: nodeHttpSender, raw: rawSender };

/** kas's place: clients on one port, the back's dialed-in connections on another. */
export async function startLayoutFront(layout: KasLayout): Promise<{ url: string; agentAddress: string }> {
  const pool = new SocketPool();
  const agentListener = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    pool.add(SENDERS[layout](socket));
  });
  const server = http.createServer((req, res) => {
    pool.take((sender) => sender.send(req, res, () => pool.release(sender)));
  });
  server.keepAliveTimeout = 60_000;
  await Promise.all([listen(agentListener), listen(server)]);
  return { url: `http://127.0.0.1:${port(server)}`, agentAddress: `127.0.0.1:${port(agentListener)}` };
}

/** How the back (agentk's place) sends its requests upstream: undici's Pool (agentk's), or node:http's keep-alive Agent. */
export type BackUpstream = 'undici' | 'http';

type Forward = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function undiciForward(upstreamUrl: string): Forward {
  const upstream = new Pool(upstreamUrl, { connections: null });
  return (req, res) =>
    upstream.dispatch(
      { method: req.method ?? 'GET', path: req.url ?? '/', headers: forwardedRequestHeaders(req), body: null },
      {
        onConnect() {},
        onHeaders(status, rawHeaders, _resume, statusText) {
          res.writeHead(status, statusText, forwardedResponseHeaders(rawHeaders));
          res.cork();
          return true;
        },
        onData: (chunk) => {
          res.write(chunk);
          return true;
        },
        onComplete: () => res.end(),
        onError: () => res.destroy(),
      },
    );
}

function nodeHttpForward(upstreamUrl: string): Forward {
  const target = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true });
  return (req, res) => {
    const outgoing = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: ['host', target.host, ...forwardedRequestHeaders(req)],
      },
      (incoming) => {
        res.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, forwardedResponseHeaders(incoming.rawHeaders));
        res.cork();
        incoming.on('data', (chunk: Buffer) => res.write(chunk));
        incoming.on('end', () => res.end());
      },
    );
    outgoing.on('error', () => res.destroy());
    outgoing.end();
  };
}

/** agentk's place: dials the front, serves its requests with node:http, forwards them upstream. */
export async function startLayoutBack(frontAgentAddress: string, upstreamUrl: string, via: BackUpstream = 'undici'): Promise<void> {
  const forward = via === 'http' ? nodeHttpForward(upstreamUrl) : undiciForward(upstreamUrl);
  const server = http.createServer({ noDelay: true }, forward);
  server.keepAliveTimeout = 0;
  const [host, portText] = frontAgentAddress.split(':');
  await Promise.all(
    Array.from(
      { length: BACK_CONNECTIONS },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect({ host, port: Number(portText), noDelay: true }, () => {
            server.emit('connection', socket);
            resolve();
          });
          socket.once('error', reject);
        }),
    ),
  );
}

function listen(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

function port(server: net.Server): number {
  return (server.address() as AddressInfo).port;
}
