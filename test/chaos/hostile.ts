// What an outsider can send: raw bytes on a listener (answered, closed, or held), many idle or
// slow sockets, every shape of credential, and random tunnel frame sequences from a stock grpc-js
// client holding a valid agent token.
import * as grpc from '@grpc/grpc-js';
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { reverseTunnelServiceDefinition, CONNECT_METHOD_PATH, type ConnectRequest } from '../../agent/modules/reverse_tunnel/protocol';
import { KUBERNETES_API_MAKE_REQUEST, KUBERNETES_API_SERVICE } from '../../agent/modules/kubernetes_api/rpc';

export interface Listener {
  name: string;
  port: number;
  tls: boolean;
}

export interface Exchange {
  /** The answer's first line, 'closed' (no answer), 'reset', or 'held' (neither within the wait). */
  result: string;
  ms: number;
}

function connect(target: Listener, localAddress?: string): net.Socket {
  const to = { host: '127.0.0.1', port: target.port, localAddress };
  return target.tls ? tls.connect({ ...to, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) : net.connect(to);
}

/** Writes `bytes` (in pieces, for large ones) and waits up to `waitMs` for an answer or a close. */
export function exchange(target: Listener, bytes: Buffer, waitMs: number): Promise<Exchange> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(target);
    let answer = '';
    let settled = false;
    const done = (result: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ result, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(answer ? firstLine(answer) : 'held'), waitMs);
    socket.on(target.tls ? 'secureConnect' : 'connect', () => {
      socket.write(bytes, () => undefined);
    });
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\n') || answer.length > 64) done(firstLine(answer));
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(answer ? firstLine(answer) : err.code === 'ECONNRESET' ? 'reset' : (err.code ?? 'error')),
    );
    socket.on('close', () => done(answer ? firstLine(answer) : 'closed'));
  });
}

function firstLine(answer: string): string {
  const line = answer.split('\n')[0]!.trim();
  // Binary answers (HTTP/2 frames): name them rather than print bytes.
  return /^[\x20-\x7e]*$/.test(line) ? line.slice(0, 60) : `binary (${answer.length} bytes)`;
}

const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** The bad inputs of the issue, per listener; `authorization` is used where a body must get past auth. */
export function badInputs(authorization: string): Array<{ name: string; bytes: Buffer }> {
  const bigHeader = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200 * 1024)}\r\n\r\n`;
  const body = 8 * 1024 * 1024;
  return [
    { name: 'garbage bytes', bytes: randomBytes(4096) },
    { name: 'truncated HTTP/2 preface', bytes: Buffer.from(H2_PREFACE.slice(0, 14)) },
    { name: 'HTTP/2 preface without SETTINGS', bytes: Buffer.from(H2_PREFACE) },
    { name: 'malformed request line', bytes: Buffer.from('GET /\u0000 HTTP/9.9\r\n\r\n') },
    { name: 'request line without a method', bytes: Buffer.from(' / HTTP/1.1\r\nHost: x\r\n\r\n') },
    { name: '200 KiB header', bytes: Buffer.from(bigHeader) },
    {
      name: '8 MiB body past the limit',
      bytes: Buffer.concat([
        Buffer.from(
          `POST /k8s-proxy/api/v1/namespaces/demo/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${body}\r\n\r\n`,
        ),
        Buffer.alloc(body, 0x61),
      ]),
    },
  ];
}

/**
 * `count` sockets held open on a listener from `localAddress`, sending nothing or (`slow`)
 * request headers at a byte a second, until `release()`. The client side knows only which
 * sockets were closed on it; which the server still holds is kas's to say (kas_sockets.ts).
 */
export class HeldSockets {
  private readonly sockets: net.Socket[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private released = false;
  opened = 0;
  closedByServer = 0;

  private constructor(
    readonly target: Listener,
    private readonly slow: boolean,
    private readonly localAddress: string,
  ) {}

  static async open(target: Listener, count: number, slow: boolean, localAddress: string): Promise<HeldSockets> {
    const held = new HeldSockets(target, slow, localAddress);
    for (let i = 0; i < count; i++) {
      held.add();
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 50)); // do not overrun the accept backlog
    }
    return held;
  }

  release(): void {
    this.released = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const socket of this.sockets) socket.destroy();
  }

  private add(): void {
    const socket = connect(this.target, this.localAddress);
    this.sockets.push(socket);
    socket.on(this.target.tls ? 'secureConnect' : 'connect', () => {
      this.opened++;
      if (!this.slow) return;
      const text = 'GET / HTTP/1.1\r\nHost: chaos\r\nX-Slow: ' + 'a'.repeat(10_000);
      let at = 0;
      this.timers.push(
        setInterval(() => {
          if (at < text.length && !socket.destroyed) socket.write(text[at++]!);
        }, 1_000),
      );
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!this.released) this.closedByServer++;
    });
  }
}

/** Sends one HTTP/1.1 request with this Authorization header (raw bytes: non-ASCII stays as sent). */
export async function requestWithAuthorization(
  target: Listener,
  path: string,
  authorization: Buffer | undefined,
  waitMs: number,
): Promise<string> {
  const head = Buffer.concat([
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`),
    ...(authorization ? [Buffer.from('Authorization: '), authorization, Buffer.from('\r\n')] : []),
    Buffer.from('\r\n'),
  ]);
  const { result } = await exchange(target, head, waitMs);
  return /^HTTP\/1\.1 (\d{3})/.exec(result)?.[1] ?? result;
}

/**
 * Credential shapes and what each listener must do with them: `refuse`; `either` where the
 * shape holds the valid user token and accepting it is a leniency, not a hole (the REST API takes
 * the bare user token and also its `pat:<id>:` form, whatever the id; an auth scheme or prefix
 * in another case); `accept` for a valid credential of that listener (the proxy's CI job access,
 * `ci:<agent id>:<job token>`; the REST API serves users, never a CI job).
 */
export type TokenVerdict = 'refuse' | 'either' | 'accept';

export interface TokenShape {
  name: string;
  value: Buffer | undefined;
  proxy: TokenVerdict;
  api: TokenVerdict;
}

export function tokenShapes(agentId: number, userToken: string, ciJobToken: string): TokenShape[] {
  const b = (text: string) => Buffer.from(text, 'utf8');
  return [
    { name: 'no header', value: undefined, proxy: 'refuse', api: 'refuse' },
    { name: 'empty', value: b(''), proxy: 'refuse', api: 'refuse' },
    { name: 'Bearer, empty token', value: b('Bearer '), proxy: 'refuse', api: 'refuse' },
    { name: 'pat: wrong token', value: b(`Bearer pat:${agentId}:kut_wrongwrongwrong`), proxy: 'refuse', api: 'refuse' },
    { name: 'pat: empty token', value: b(`Bearer pat:${agentId}:`), proxy: 'refuse', api: 'refuse' },
    { name: 'pat: no agent id', value: b(`Bearer pat::${userToken}`), proxy: 'refuse', api: 'refuse' },
    { name: 'pat: agent 01 (non-canonical)', value: b(`Bearer pat:0${agentId}:${userToken}`), proxy: 'refuse', api: 'either' },
    { name: 'pat: other agent', value: b(`Bearer pat:${agentId + 1000}:${userToken}`), proxy: 'refuse', api: 'either' },
    { name: 'ci: wrong token', value: b(`Bearer ci:${agentId}:wrong`), proxy: 'refuse', api: 'refuse' },
    { name: 'ci: a user token', value: b(`Bearer ci:${agentId}:${userToken}`), proxy: 'refuse', api: 'refuse' },
    { name: 'ci: empty', value: b('Bearer ci::'), proxy: 'refuse', api: 'refuse' },
    { name: 'ci: valid job token', value: b(`Bearer ci:${agentId}:${ciJobToken}`), proxy: 'accept', api: 'refuse' },
    { name: 'pat: a CI job token', value: b(`Bearer pat:${agentId}:${ciJobToken}`), proxy: 'refuse', api: 'refuse' },
    { name: 'ci: job token, other agent', value: b(`Bearer ci:${agentId + 1000}:${ciJobToken}`), proxy: 'refuse', api: 'refuse' },
    { name: '100 KiB token', value: b(`Bearer pat:${agentId}:${'x'.repeat(100 * 1024)}`), proxy: 'refuse', api: 'refuse' },
    { name: 'non-ASCII token', value: b(`Bearer pat:${agentId}:tökén-✓-${userToken.slice(0, 8)}`), proxy: 'refuse', api: 'refuse' },
    { name: 'wrong case PAT:', value: b(`Bearer PAT:${agentId}:${userToken}`), proxy: 'either', api: 'either' },
    { name: 'token in upper case', value: b(`Bearer pat:${agentId}:${userToken.toUpperCase()}`), proxy: 'refuse', api: 'refuse' },
    { name: 'Basic scheme', value: b(`Basic ${Buffer.from(`x:${userToken}`).toString('base64')}`), proxy: 'refuse', api: 'refuse' },
    { name: 'bearer (scheme lower case), valid', value: b(`bearer pat:${agentId}:${userToken}`), proxy: 'either', api: 'either' },
  ];
}

// ------------------------------------------------------------------ tunnel frames, stock grpc-js

/** A definition whose requests are raw bytes: grpc-js frames them, nothing checks them. */
const RAW_CONNECT = {
  Connect: {
    ...reverseTunnelServiceDefinition.Connect!,
    path: CONNECT_METHOD_PATH,
    requestSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

const serialize = reverseTunnelServiceDefinition.Connect!.requestSerialize as (value: ConnectRequest) => Buffer;

function randomFrame(): Buffer {
  const meta = { [`x-${randomInt(5)}`]: { value: [randomBytes(randomInt(40)).toString('latin1')] } };
  switch (randomInt(9)) {
    case 0:
      return serialize({ descriptor: { services: [{ name: KUBERNETES_API_SERVICE, methods: [KUBERNETES_API_MAKE_REQUEST] }] } });
    case 1:
      return serialize({ descriptor: { services: randomInt(2) ? [] : [{ name: randomBytes(8).toString('hex'), methods: ['/x/y'] }] } });
    case 2:
      return serialize({ header: { status: [200, 0, -1, 99, 101, 600, 2 ** 31 - 1][randomInt(7)], reason: 'x', httpHeaders: meta, meta } });
    case 3:
      return serialize({ message: { data: randomBytes(randomInt(3) === 0 ? 0 : randomInt(64 * 1024)) } });
    case 4:
      return serialize({ trailer: { meta } });
    case 5:
      return serialize({ error: { code: randomInt(-5, 40), message: randomBytes(20).toString('latin1') } });
    case 6:
      return Buffer.alloc(0); // an empty ConnectRequest (no field set)
    case 7:
      return randomBytes(randomInt(1, 200)); // not protobuf
    default:
      return serialize({ header: { status: 200, httpHeaders: { 'content-type': { value: ['text/plain'] } } } });
  }
}

export interface FuzzResult {
  sequences: number;
  requestsReceived: number;
  endedByKas: Record<string, number>;
}

/**
 * `count` Connect streams with a valid agent token, `concurrency` at a time, each a random
 * sequence: most start with a descriptor offering the Kubernetes API (so kas routes user requests
 * to it), then 1-8 random frames, some only after kas sent a request.
 */
export async function fuzzTunnel(agentAddress: string, agentToken: string, count: number, concurrency: number): Promise<FuzzResult> {
  const Client = grpc.makeGenericClientConstructor(RAW_CONNECT as unknown as grpc.ServiceDefinition, 'ReverseTunnel');
  const client = new Client(agentAddress, grpc.credentials.createInsecure());
  const result: FuzzResult = { sequences: 0, requestsReceived: 0, endedByKas: {} };
  const one = async () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${agentToken}`);
    const call = (client as unknown as { Connect(m: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }).Connect(metadata);
    const ended = new Promise<string>((resolve) => {
      call.on('error', (err: grpc.ServiceError) => resolve(grpc.status[err.code] ?? String(err.code)));
      call.on('end', () => resolve('OK'));
    });
    let gotRequest: () => void = () => undefined;
    const request = new Promise<void>((resolve) => (gotRequest = resolve));
    call.on('data', () => {
      result.requestsReceived++;
      gotRequest();
    });
    if (randomInt(4) !== 0)
      call.write(serialize({ descriptor: { services: [{ name: KUBERNETES_API_SERVICE, methods: [KUBERNETES_API_MAKE_REQUEST] }] } }));
    if (randomInt(2)) await Promise.race([request, new Promise((r) => setTimeout(r, 300))]);
    for (let i = randomInt(1, 9); i > 0; i--) {
      if (!call.write(randomFrame())) await new Promise((r) => setTimeout(r, 5));
    }
    if (randomInt(2)) call.end();
    const how = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r('open after 2 s (cancelled)'), 2_000))]);
    call.cancel();
    result.endedByKas[how] = (result.endedByKas[how] ?? 0) + 1;
    result.sequences++;
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await one();
    }),
  );
  client.close();
  return result;
}

/**
 * HTTP/2 refuses a header block past its HPACK limits (64 KiB) with RST_STREAM COMPRESSION_ERROR
 * before any call exists: grpc-js reports it as INTERNAL. The HTTP/1.1 listeners' 431.
 */
const RST_STREAM_COMPRESSION = /RST_STREAM with code 9\b/;
export const HEADER_BLOCK_REFUSED = 'header block refused (RST_STREAM COMPRESSION_ERROR)';

/** A Connect call with this token: the status kas ends it with (UNAUTHENTICATED expected). */
export async function connectWithToken(agentAddress: string, token: string): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(RAW_CONNECT as unknown as grpc.ServiceDefinition, 'ReverseTunnel');
  const client = new Client(agentAddress, grpc.credentials.createInsecure());
  try {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const call = (client as unknown as { Connect(m: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }).Connect(metadata);
    call.write(serialize({ descriptor: { services: [] } }));
    return await Promise.race([
      new Promise<string>((resolve) => {
        call.on('error', (err: grpc.ServiceError) =>
          resolve(RST_STREAM_COMPRESSION.test(err.details) ? HEADER_BLOCK_REFUSED : (grpc.status[err.code] ?? String(err.code))),
        );
        call.on('end', () => resolve('OK'));
        call.on('data', () => resolve('request received'));
      }),
      new Promise<string>((r) =>
        setTimeout(() => {
          call.cancel();
          r('accepted (open after 3 s)');
        }, 3_000),
      ),
    ]);
  } finally {
    client.close();
  }
}
