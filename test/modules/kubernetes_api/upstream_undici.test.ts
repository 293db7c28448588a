// agentk's requests to the Kubernetes API (undici's dispatch API, one Pool per TLS identity):
// what arrives upstream and what comes back through kas, for the cases the echo tests in
// proxy.test.ts do not reach — plain http:// with a token, TLS with a client certificate and
// basic auth, raw multi-valued headers and reason phrases, informational 1xx answers, large
// bodies both ways, a client that leaves mid-response, an unreachable API server.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Agentk } from '../../../agent/agentk';
import { createCertificateAuthority, issueServerCertificate } from '../../../agent/internal/tls';
import { makeTempDir, startAgentk, startKas, userAuth, waitForIdleTunnels, type Kas } from '../reverse_tunnel/harness';
import { eventually } from '../../support/eventually';

const UPSTREAM_TOKEN = 'plain-http-sa-token';
const BIG_RESPONSE_BYTES = 16 * 1024 * 1024;

/** What the upstream saw of the last request to /hold: whether its response was closed under it. */
interface HoldState {
  started: boolean;
  closedBeforeEnd: boolean;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function routes(hold: HoldState): Handler {
  return (req, res) => {
    const url = req.url ?? '/';
    if (url === '/multi') {
      res.setHeader('x-multi', ['first', 'second']);
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(299, 'Custom Reason');
      res.end('multi');
    } else if (url === '/early-hints') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('after the hints');
    } else if (url === '/big') {
      sendBig(res);
    } else if (url === '/denied') {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","code":403}');
    } else if (url === '/hold') {
      hold.started = true;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first line\n');
      res.on('close', () => (hold.closedBeforeEnd = !res.writableEnded));
    } else {
      echo(req, res);
    }
  };
}

/** Replies with the method, the headers and the body's length and sha256 (bodies of any size). */
function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  const hash = createHash('sha256');
  let length = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        length,
        sha256: hash.digest('hex'),
        clientCert: clientCertName(req),
      }),
    );
  });
}

function clientCertName(req: http.IncomingMessage): string | undefined {
  const socket = req.socket as Partial<import('node:tls').TLSSocket>;
  const commonName = socket.getPeerCertificate ? socket.getPeerCertificate().subject?.CN : undefined;
  return Array.isArray(commonName) ? commonName.join(',') : commonName;
}

/** 16 MiB in 64 KiB pieces, honouring backpressure (as logs -f of a chatty container would). */
function sendBig(res: http.ServerResponse): void {
  const piece = Buffer.alloc(64 * 1024, 'log line of a busy container\n');
  res.writeHead(200, { 'content-type': 'text/plain' });
  let sent = 0;
  const pump = () => {
    while (sent < BIG_RESPONSE_BYTES) {
      sent += piece.length;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

async function writeJson(file: string, value: unknown): Promise<string> {
  await fs.writeFile(file, JSON.stringify(value));
  return file;
}

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'api', cluster }],
    users: [{ name: 'sa', user }],
    contexts: [{ name: 'api', context: { cluster: 'api', user: 'sa' } }],
    'current-context': 'api',
  };
}

interface RawResult {
  status: number;
  statusMessage: string;
  rawHeaders: string[];
  body: Buffer;
}

function rawRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: { ...userAuth(), ...options.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function headerValues(raw: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!);
  return values;
}

/** kas and an agentk that reaches the Kubernetes API through this kubeconfig, tunnels ready. */
async function startTunnelFor(kubeconfigFile: string): Promise<{ kas: Kas; agentk: Agentk }> {
  const kas = await startKas();
  const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: kubeconfigFile });
  await waitForIdleTunnels(kas.registry);
  return { kas, agentk };
}

describe('tunnel: agentk → Kubernetes API over plain http:// with a token (undici)', function () {
  this.timeout(60_000);
  const hold: HoldState = { started: false, closedBeforeEnd: false };
  let upstream: http.Server;
  let dir: string;
  let kas: Kas;
  let agentk: Agentk;

  before(async () => {
    upstream = http.createServer(routes(hold));
    const port = await listen(upstream);
    dir = await makeTempDir();
    // No insecure-skip-tls-verify: kubectl accepts this kubeconfig, and so must agentk.
    const file = await writeJson(
      path.join(dir, 'kubeconfig.json'),
      kubeconfig({ server: `http://127.0.0.1:${port}` }, { token: UPSTREAM_TOKEN }),
    );
    ({ kas, agentk } = await startTunnelFor(file));
  });
  after(async () => {
    await agentk?.stop();
    await kas?.stop();
    if (upstream) await closeServer(upstream);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('serves a kubeconfig for an http:// server with a token user (no insecure-skip-tls-verify), sending the token upstream', async () => {
    const res = await rawRequest(`${kas.proxyUrl}/api/v1/pods?limit=1`);
    assert.equal(res.status, 200, res.body.toString());
    const echoed = JSON.parse(res.body.toString()) as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/api/v1/pods?limit=1');
    assert.equal(echoed.headers['authorization'], `Bearer ${UPSTREAM_TOKEN}`);
  });

  it('passes multi-valued response headers through value by value, and the reason phrase', async () => {
    const res = await rawRequest(`${kas.proxyUrl}/multi`);
    assert.equal(res.status, 299);
    assert.equal(res.statusMessage, 'Custom Reason');
    assert.deepEqual(headerValues(res.rawHeaders, 'x-multi'), ['first', 'second']);
    assert.deepEqual(headerValues(res.rawHeaders, 'set-cookie'), ['a=1', 'b=2']);
    assert.equal(res.body.toString(), 'multi');
  });

  it('answers with the final response when the API sends 103 Early Hints first', async () => {
    const res = await rawRequest(`${kas.proxyUrl}/early-hints`);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'after the hints');
  });

  it('streams an 8 MiB request body and a 16 MiB response intact', async () => {
    const upload = randomBytes(8 * 1024 * 1024);
    const posted = await rawRequest(`${kas.proxyUrl}/upload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: upload,
    });
    assert.equal(posted.status, 200);
    const echoed = JSON.parse(posted.body.toString()) as { method: string; length: number; sha256: string };
    assert.equal(echoed.method, 'PUT');
    assert.equal(echoed.length, upload.length);
    assert.equal(echoed.sha256, createHash('sha256').update(upload).digest('hex'));
    const big = await rawRequest(`${kas.proxyUrl}/big`);
    assert.equal(big.status, 200);
    assert.equal(big.body.length, BIG_RESPONSE_BYTES);
  });

  it('sends a request with Expect: 100-continue (kas answered the 100; the header does not go upstream)', async () => {
    const res = await rawRequest(`${kas.proxyUrl}/continue`, {
      method: 'POST',
      headers: { expect: '100-continue', 'content-type': 'text/plain' },
      body: Buffer.from('after continue'),
    });
    assert.equal(res.status, 200, res.body.toString());
    const echoed = JSON.parse(res.body.toString()) as { length: number; headers: Record<string, string> };
    assert.equal(echoed.length, 'after continue'.length);
    assert.equal(echoed.headers['expect'], undefined);
  });

  it('answers an upgrade request the API refuses (no 101) with its status and body', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const headers = { ...userAuth(), connection: 'Upgrade', upgrade: 'SPDY/3.1' };
      const req = http.request(`${kas.proxyUrl}/denied`, { headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('upgrade', () => reject(new Error('upgraded although the API refused')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body, '{"kind":"Status","code":403}');
  });

  it('aborts the upstream request when the client leaves mid-response', async () => {
    hold.started = false;
    hold.closedBeforeEnd = false;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${kas.proxyUrl}/hold`, { headers: userAuth(), agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    });
    assert.ok(hold.started, 'the request reached the upstream');
    await eventually(() => hold.closedBeforeEnd, 'the upstream response to be closed before its end');
  });
});

describe('tunnel: agentk → Kubernetes API over https:// with a client certificate and basic auth (undici)', function () {
  this.timeout(60_000);
  let upstream: https.Server;
  let dir: string;
  let kas: Kas;
  let agentk: Agentk;

  before(async () => {
    const ca = createCertificateAuthority('upstream-ca');
    const serverCert = issueServerCertificate(ca, ['127.0.0.1']);
    const clientCert = issueServerCertificate(ca, ['agentk-client']);
    upstream = https.createServer(
      { cert: serverCert.certPem, key: serverCert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      routes({ started: false, closedBeforeEnd: false }),
    );
    const port = await listen(upstream);
    dir = await makeTempDir();
    const base64 = (pem: string) => Buffer.from(pem).toString('base64');
    const file = await writeJson(
      path.join(dir, 'kubeconfig.json'),
      kubeconfig(
        { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': base64(ca.certPem) },
        {
          'client-certificate-data': base64(clientCert.certPem),
          'client-key-data': base64(clientCert.keyPem),
          username: 'admin',
          password: 'secret',
        },
      ),
    );
    ({ kas, agentk } = await startTunnelFor(file));
  });
  after(async () => {
    await agentk?.stop();
    await kas?.stop();
    if (upstream) await closeServer(upstream);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('verifies the API server against the kubeconfig CA, presents the client certificate and sends basic auth', async () => {
    const res = await rawRequest(`${kas.proxyUrl}/version`);
    assert.equal(res.status, 200, res.body.toString());
    const echoed = JSON.parse(res.body.toString()) as { headers: Record<string, string>; clientCert?: string };
    assert.equal(echoed.clientCert, 'agentk-client');
    assert.equal(echoed.headers['authorization'], `Basic ${Buffer.from('admin:secret').toString('base64')}`);
  });

  it('reuses its connections across requests (one keep-alive pool, not a connection per request)', async () => {
    let connections = 0;
    const count = () => connections++;
    upstream.on('secureConnection', count);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await rawRequest(`${kas.proxyUrl}/version`)).status, 200);
    } finally {
      upstream.off('secureConnection', count);
    }
    assert.ok(connections <= 1, `5 sequential requests opened ${connections} new TLS connections`);
  });
});

describe('tunnel: agentk → an unreachable Kubernetes API (undici)', function () {
  this.timeout(60_000);
  let dir: string;
  let kas: Kas;
  let agentk: Agentk;

  before(async () => {
    const closed = http.createServer();
    const port = await listen(closed);
    await closeServer(closed); // nothing listens there now
    dir = await makeTempDir();
    const file = await writeJson(
      path.join(dir, 'kubeconfig.json'),
      kubeconfig({ server: `http://127.0.0.1:${port}` }, { token: UPSTREAM_TOKEN }),
    );
    ({ kas, agentk } = await startTunnelFor(file));
  });
  after(async () => {
    await agentk?.stop();
    await kas?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers 502 naming the error code only, and keeps serving', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await rawRequest(`${kas.proxyUrl}/api/v1/pods`);
      assert.equal(res.status, 502);
      const status = JSON.parse(res.body.toString()) as { kind: string; message: string };
      assert.equal(status.kind, 'Status');
      assert.match(status.message, /Kubernetes API unreachable \(ECONNREFUSED\)/);
    }
  });
});
