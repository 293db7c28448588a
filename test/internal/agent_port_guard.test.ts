// The agent port against strangers (issue 13, defect 5): real kas, real sockets. Connections that
// never finish the handshake or never authenticate are closed at their deadline, the number
// waiting at once is capped, and an agent whose call kas accepted stays connected. Deadlines are
// made short through kascfg so the test stays fast.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { startKas, type Kas } from '../../agent/kas/index';
import { CONNECT_METHOD_PATH } from '../../agent/modules/reverse_tunnel/protocol';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../kas/helpers';

const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const HANDSHAKE_MS = 400;
const AUTHENTICATION_MS = 1200;
const CAP = 20;

/** Resolves when `socket` closes; rejects after `ms` (a bound, not a wait: the close is the condition). */
function closedWithin(socket: net.Socket, ms: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

function connect(address: string): Promise<net.Socket> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.on('error', () => undefined); // a reset by kas is what some cases expect
    socket.resume(); // read: a socket whose peer closed emits 'close' only once its end was read
    socket.once('error', reject);
  });
}

/** A reverse tunnel Connect call on `session` with this Authorization header; its stream errors are the test's to judge. */
function connectCall(session: http2.ClientHttp2Session, authorization: string): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': CONNECT_METHOD_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization,
  });
  stream.on('error', () => undefined);
  return stream;
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('agent port: unauthenticated connections are bounded', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let kas: Kas;
  let agentToken: string;
  const sockets: net.Socket[] = [];

  before(async () => {
    temp = makeTempDir();
    const repo = new TestRepository(temp.dir);
    repo.commit({ [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n' });
    const listen = {
      handshake_timeout: `${HANDSHAKE_MS}ms`,
      authentication_timeout: `${AUTHENTICATION_MS}ms`,
      max_unauthenticated_connections: CAP,
      websocket: true,
    };
    kas = await startKas(testKasConfig(repo.dir, path.join(temp.dir, 'data'), { agent: { listen } }), testLogger());
    agentToken = (await kas.registry.agentTokens.create('dev')).token;
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  after(async () => {
    await kas.stop();
    temp.remove();
  });

  async function open(): Promise<net.Socket> {
    const socket = await connect(kas.agentAddress);
    sockets.push(socket);
    return socket;
  }

  it('closes a socket that sends nothing at the handshake deadline', async () => {
    const elapsed = await closedWithin(await open(), 10_000);
    assert.ok(elapsed >= HANDSHAKE_MS - 50, `closed after ${elapsed} ms`);
  });

  it('closes a truncated HTTP/2 preface, and a preface without SETTINGS', async () => {
    const truncated = await open();
    truncated.write(PREFACE.subarray(0, 10));
    const noSettings = await open();
    noSettings.write(PREFACE);
    await Promise.all([closedWithin(truncated, 10_000), closedWithin(noSettings, 10_000)]);
  });

  it('closes a connection kas sent GOAWAY for a too-large frame', async () => {
    const socket = await open();
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    // A DATA frame header announcing 1 MiB, past the 16 KiB maximum frame size.
    socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS, Buffer.from([0x10, 0, 0, 0, 0, 0, 0, 0, 1])]));
    await closedWithin(socket, 10_000);
    assert.ok(received.includes(Buffer.from([7, 0, 0, 0, 0, 0])), 'kas sent GOAWAY before closing');
  });

  it('closes a WebSocket upgrade that never speaks HTTP/2', async () => {
    const ws = new WebSocket(`ws://${kas.agentAddress}/agentk-ws`);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.on('error', () => undefined);
    await closed;
  });

  it(`holds at most ${CAP} unauthenticated connections; past the cap, the oldest are closed at once`, async () => {
    const many = await Promise.all(Array.from({ length: CAP * 3 }, () => open()));
    await until(() => many.filter((s) => !s.destroyed).length <= CAP, 10_000, 'the sockets past the cap to close');
    const stillOpen = many.filter((s) => !s.destroyed).length;
    assert.ok(stillOpen <= CAP, `${stillOpen} open`);
    await Promise.all(many.map((s) => closedWithin(s, 10_000)));
    const metrics = await (await fetch(`http://${kas.observabilityAddress}/metrics`)).text();
    const overCapacity = /kas_agent_connections_closed_unauthenticated_total\{reason="over_capacity"\} (\d+)/.exec(metrics)?.[1];
    assert.ok(Number(overCapacity) >= CAP * 3 - CAP, `over_capacity closures counted: ${overCapacity}`);
  });

  it(`lets an agent in while strangers hold all ${CAP} places: the oldest waiting connection is closed for it`, async () => {
    const strangers = [];
    // One at a time: kas admits them in this order, so the first is the oldest.
    for (let i = 0; i < CAP; i++) strangers.push(await open());
    await new Promise((resolve) => setTimeout(resolve, 100)); // kas admitted the last one too
    assert.ok(
      strangers.every((s) => !s.destroyed),
      'all held',
    );
    const session = http2.connect(`http://${kas.agentAddress}`);
    session.on('error', () => undefined);
    try {
      const stream = connectCall(session, `Bearer ${agentToken}`);
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.once('response', resolve);
        stream.once('close', () => reject(new Error('kas closed the agent connection')));
      });
      assert.equal(headers['grpc-status'], undefined, 'accepted, not refused');
      await closedWithin(strangers[0]!, 5_000);
      assert.ok(
        strangers.slice(1).every((s) => !s.destroyed),
        'only the oldest stranger made room',
      );
    } finally {
      session.destroy();
    }
  });

  it('keeps an agent connection open past the deadlines once kas accepted its call', async () => {
    const session = http2.connect(`http://${kas.agentAddress}`);
    session.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const stream = connectCall(session, `Bearer ${agentToken}`);
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    assert.equal(headers['grpc-status'], undefined, 'accepted, not refused');
    let gone = false;
    void closed.then(() => (gone = true));
    // Well past both deadlines; the session must still be there (kas' own keepalive is 55 s).
    const started = Date.now();
    await until(() => gone || Date.now() - started > AUTHENTICATION_MS * 2.5, 10_000, 'the deadlines to pass');
    assert.equal(gone, false, 'kas closed an authenticated connection');
    session.destroy();
  });

  it('closes a connection whose calls kas refused (invalid token) at the authentication deadline', async () => {
    const session = http2.connect(`http://${kas.agentAddress}`);
    session.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => {
      const started = Date.now();
      session.once('close', () => resolve(Date.now() - started));
    });
    const stream = connectCall(session, 'Bearer not-a-token');
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    assert.equal(headers['grpc-status'], '16');
    const elapsed = await closed;
    assert.ok(elapsed < 10_000);
  });
});

describe('agent port over TLS: the handshake counts against the deadline', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let kas: Kas;
  let agentToken: string;
  let caPem: string;

  before(async () => {
    temp = makeTempDir();
    const repo = new TestRepository(temp.dir);
    repo.commit({ [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n' });
    const ca = createCertificateAuthority();
    caPem = ca.certPem;
    const certificate = issueServerCertificate(ca, LOOPBACK_HOSTS);
    writeFileSync(path.join(temp.dir, 'agent.crt'), certificate.certPem);
    writeFileSync(path.join(temp.dir, 'agent.key'), certificate.keyPem);
    const listen = {
      handshake_timeout: `${HANDSHAKE_MS}ms`,
      authentication_timeout: `${AUTHENTICATION_MS}ms`,
      certificate_file: path.join(temp.dir, 'agent.crt'),
      key_file: path.join(temp.dir, 'agent.key'),
    };
    kas = await startKas(testKasConfig(repo.dir, path.join(temp.dir, 'data'), { agent: { listen } }), testLogger());
    agentToken = (await kas.registry.agentTokens.create('dev')).token;
  });
  after(async () => {
    await kas.stop();
    temp.remove();
  });

  it('closes a socket that never starts TLS, and one that stops after its ClientHello', async () => {
    const silent = await connect(kas.agentAddress);
    const halfway = await connect(kas.agentAddress);
    // The first bytes of a TLS record (handshake, TLS 1.0 record version, a length it never sends).
    halfway.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    try {
      await Promise.all([closedWithin(silent, 10_000), closedWithin(halfway, 10_000)]);
    } finally {
      silent.destroy();
      halfway.destroy();
    }
  });

  it('keeps a TLS agent connection whose call kas accepted', async () => {
    const session = http2.connect(`https://${kas.agentAddress}`, { ca: caPem, servername: 'localhost' });
    session.on('error', () => undefined);
    let gone = false;
    session.once('close', () => (gone = true));
    const stream = connectCall(session, `Bearer ${agentToken}`);
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    assert.equal(headers['grpc-status'], undefined);
    const started = Date.now();
    await until(() => gone || Date.now() - started > AUTHENTICATION_MS * 2.5, 10_000, 'the deadlines to pass');
    assert.equal(gone, false, 'kas closed an authenticated TLS connection');
    session.destroy();
  });
});
