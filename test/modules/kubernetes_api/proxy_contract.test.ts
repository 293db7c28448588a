// The proxy's contract as the reference keeps it, through a real kas and agentk (the transport
// TUNNEL_TRANSPORT picks) to a small real upstream: what the cluster receives (no caller
// credentials, no session-cookie headers or query parameters, kas's Via appended), what the client
// gets back (no upstream CORS headers, kas's Via appended), and which 401 carries kas's marker.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { Agentk } from '../../../agent/agentk';
import { KAS_VERSION } from '../../../agent/internal/version';
import { KAS_UNAUTHORIZED_HEADER, LEGACY_KAS_AUTH_ERROR_HEADER } from '../../../agent/shared/kas_api';
import { codeForStatus, kasRefusedCredentials } from '../../../extension/src/kas_client/errors';
import {
  makeTempDir,
  request,
  startAgentk,
  startKas,
  userAuth,
  waitForIdleTunnels,
  writeKubeconfig,
  type FetchResult,
  type Kas,
} from '../reverse_tunnel/harness';

const KAS_VIA = `gRPC/1.0 kas-test/${KAS_VERSION}`;

interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** Echoes what it received; answers as a cluster would, CORS and Server headers included. */
function startContractUpstream(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/unauthorized')) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      server: 'upstream-apiserver',
      via: '1.1 cluster-lb',
      vary: 'Accept',
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'Authorization',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-max-age': '600',
      'access-control-expose-headers': 'Warning',
    });
    res.end(JSON.stringify({ url: req.url ?? '', headers: req.headers } satisfies Received));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        stop: () => new Promise<void>((done) => server.close(() => done())),
      }),
    ),
  );
}

/** A GET of /api/v1/pods with exactly these header lines (Node's client merges or refuses repeated ones), the whole answer. */
function rawGet(proxyUrl: string, headers: string[]): Promise<string> {
  const target = new URL(`${proxyUrl}/api/v1/pods`);
  const lines = [`GET ${target.pathname} HTTP/1.1`, `host: ${target.host}`, 'connection: close'];
  for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i]!}: ${headers[i + 1]!}`);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

/** The extension's reading of an answer, as its HTTP client does it. */
function extensionCode(res: FetchResult): string {
  return codeForStatus(
    res.status,
    kasRefusedCredentials((name) => res.headers[name]),
  );
}

describe('kubernetes_api: the proxy contract (reference)', function () {
  let upstream: { url: string; stop(): Promise<void> };
  let dir: string;
  let kas: Kas;
  let agentk: Agentk;

  before(async () => {
    upstream = await startContractUpstream();
    dir = await makeTempDir();
    kas = await startKas({ agentWaitTimeoutMs: 300 });
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: await writeKubeconfig(dir, upstream.url) });
    await waitForIdleTunnels(kas.registry);
  });
  after(async () => {
    await agentk.stop();
    await kas.stop();
    await upstream.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('strips Authorization, Cookie, Gitlab-Agent-Id and X-Csrf-Token, and appends its Via after the client’s', async () => {
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, {
      headers: {
        ...userAuth(),
        cookie: '_gitlab_kas=session',
        'gitlab-agent-id': '42',
        'x-csrf-token': 'csrf',
        via: '1.1 corporate-proxy',
        'x-custom': 'kept',
      },
    });
    assert.equal(res.status, 200, res.body);
    const received = JSON.parse(res.body) as Received;
    assert.equal(received.headers['authorization'], 'Bearer upstream-sa-token', "agentk's own credentials, never the caller's");
    for (const name of ['cookie', 'gitlab-agent-id', 'x-csrf-token']) assert.equal(received.headers[name], undefined, name);
    assert.equal(received.headers['x-custom'], 'kept');
    assert.equal(received.headers['via'], `1.1 corporate-proxy, ${KAS_VIA}`);
  });

  it('strips the gitlab-agent-id and gitlab-csrf-token query parameters and keeps the others as written', async () => {
    const query = 'labelSelector=app%3Dweb&gitlab-agent-id=42&limit=5&gitlab%2Dcsrf-token=x&watch&gitlab-csrf-token=y';
    const res = await request(`${kas.proxyUrl}/api/v1/pods?${query}`, { headers: userAuth() });
    assert.equal(res.status, 200, res.body);
    assert.equal((JSON.parse(res.body) as Received).url, '/api/v1/pods?labelSelector=app%3Dweb&limit=5&watch');
    const only = await request(`${kas.proxyUrl}/api/v1/pods?gitlab-agent-id=42`, { headers: userAuth() });
    assert.equal((JSON.parse(only.body) as Received).url, '/api/v1/pods');
  });

  it("drops the cluster's CORS headers, keeps its Server, and appends kas's Via to the cluster's", async () => {
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
    assert.equal(res.status, 200);
    for (const name of [
      'access-control-allow-origin',
      'access-control-allow-headers',
      'access-control-allow-credentials',
      'access-control-allow-methods',
      'access-control-max-age',
    ])
      assert.equal(res.headers[name], undefined, name);
    assert.equal(res.headers['access-control-expose-headers'], 'Warning', 'the reference drops only the five it sets itself');
    assert.equal(res.headers['server'], 'upstream-apiserver', 'the reference removes only its own Server on proxied answers');
    assert.equal(res.headers['vary'], 'Accept');
    assert.equal(res.headers['via'], `1.1 cluster-lb, ${KAS_VIA}`);
  });

  it("marks kas's own 401 with Gitlab-Unauthorized: true, and the extension reads it as kas's", async () => {
    for (const headers of [{}, userAuth('wrong-token'), { authorization: 'Bearer PAT:1:x' }]) {
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers[KAS_UNAUTHORIZED_HEADER], 'true');
      assert.equal(res.headers[LEGACY_KAS_AUTH_ERROR_HEADER], undefined, 'the old marker is read, no longer sent');
      assert.equal(res.headers['server'], `kas-test/${KAS_VERSION}`, 'kas names itself in Server on its own answers');
      const status = JSON.parse(res.body) as { kind: string; reason: string; code: number };
      assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'Unauthorized', 401]);
      assert.equal(extensionCode(res), 'KAS_UNAUTHORIZED');
    }
  });

  it('refuses two Authorization headers even when both are valid, and reads the header whatever its case', async () => {
    const valid = userAuth().authorization;
    const twice = await rawGet(kas.proxyUrl, ['Authorization', valid, 'authorization', valid]);
    assert.match(twice, /^HTTP\/1\.1 401 /);
    assert.match(twice, new RegExp(`${KAS_UNAUTHORIZED_HEADER}: true`, 'i'));
    const upper = await rawGet(kas.proxyUrl, ['AUTHORIZATION', valid]);
    assert.match(upper, /^HTTP\/1\.1 200 /);
  });

  it("passes the cluster's 401 through without the marker, and the extension reads it as the cluster's", async () => {
    const res = await request(`${kas.proxyUrl}/unauthorized`, { headers: userAuth() });
    assert.equal(res.status, 401);
    assert.equal(res.headers[KAS_UNAUTHORIZED_HEADER], undefined);
    assert.equal(res.headers['via'], KAS_VIA, 'it came through kas');
    assert.equal(extensionCode(res), 'CLUSTER_UNAUTHORIZED');
  });

  it('the extension still reads the marker of earlier kas versions', () => {
    assert.equal(
      kasRefusedCredentials((name) => (name === LEGACY_KAS_AUTH_ERROR_HEADER ? 'true' : undefined)),
      true,
    );
    assert.equal(
      kasRefusedCredentials((name) => (name === KAS_UNAUTHORIZED_HEADER ? ['true'] : undefined)),
      true,
    );
    assert.equal(
      kasRefusedCredentials(() => 'false'),
      false,
    );
  });

  it("answers a path outside the prefix with the reference's 400 BadRequest Status", async () => {
    const res = await request(kas.proxyUrl.replace('/k8s-proxy', '/elsewhere'), { headers: userAuth() });
    assert.equal(res.status, 400);
    const status = JSON.parse(res.body) as { kind: string; reason: string; code: number };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'BadRequest', 400]);
  });

  it('answers a CORS preflight itself (any OPTIONS, before credentials), never passing it to the cluster', async () => {
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, {
      method: 'OPTIONS',
      headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'Content-Type, X-Csrf-Token' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body, '', 'no echo from the upstream');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH');
    assert.equal(res.headers['access-control-allow-headers'], 'Content-Type, X-Csrf-Token');
    assert.equal(res.headers['access-control-max-age'], '86400');
    assert.equal(res.headers['server'], `kas-test/${KAS_VERSION}`);
  });

  it('refuses a request with an Origin (403, no body): no origin is allowed without a GitLab external URL', async () => {
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: { ...userAuth(), origin: 'https://app.example.com' } });
    assert.deepEqual([res.status, res.body], [403, '']);
    const ws = new WebSocket(`${kas.proxyUrl.replace(/^http/, 'ws')}/api/v1/namespaces/default/pods/p/exec`, {
      headers: userAuth(),
      origin: 'https://app.example.com',
    });
    const refused = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0));
      ws.once('open', () => reject(new Error('the upgrade went through')));
      ws.once('error', reject);
    });
    ws.terminate();
    assert.equal(refused, 403);
  });
});
