// The kas/Kubernetes HTTP client: no redirects, timeouts, CA handling, and errors that carry a
// code and our own explanation, never the upstream text.
import { strict as assert } from 'node:assert';
import * as https from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { KasClientError, userMessage } from '../../extension/src/kas_client/errors';
import { joinUrl, readCaFile, requestJson } from '../../extension/src/kas_client/http';
import { KasApi } from '../../extension/src/kas_client/kas_api';
import { serve, TestServer } from './helpers';

async function expectCode(promise: Promise<unknown>, code: string): Promise<KasClientError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof KasClientError, `expected a KasClientError, got ${String(error)}`);
  assert.equal(error.code, code);
  return error;
}

describe('extension HTTP client', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('refuses to follow a redirect and never contacts its target', async () => {
    const target = await serve((_req, res) => res.end('{}'));
    try {
      server = await serve((_req, res) => {
        res.writeHead(302, { Location: `${target.url}stolen` });
        res.end();
      });
      await expectCode(requestJson({ baseUrl: server.url, authorization: 'Bearer t' }, 'api/v1/agents'), 'REDIRECT_REFUSED');
      assert.deepEqual(target.hits, []);
    } finally {
      await target.close();
    }
  });

  it('tells a kas auth refusal (header) from a cluster 401, without upstream text', async () => {
    server = await serve((req, res) => {
      const fromKas = req.url?.includes('kas');
      res.writeHead(
        401,
        fromKas ? { 'Gitlab-Unauthorized': 'true', 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json' },
      );
      res.end(JSON.stringify({ kind: 'Status', message: '<script>evil upstream text</script>' }));
    });
    const kasError = await expectCode(requestJson({ baseUrl: server.url, authorization: 'Bearer bad' }, 'kas'), 'KAS_UNAUTHORIZED');
    assert.equal(userMessage(kasError), 'KAS_UNAUTHORIZED: the token was refused');
    const clusterError = await expectCode(
      requestJson({ baseUrl: server.url, authorization: 'Bearer bad' }, 'cluster'),
      'CLUSTER_UNAUTHORIZED',
    );
    assert.ok(!clusterError.message.includes('evil'));
  });

  it('treats any 401 from the kas REST API as kas refusing the token', async () => {
    server = await serve((_req, res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="kas"' });
      res.end();
    });
    await expectCode(
      new KasApi({ baseUrl: server.url, authorization: 'Bearer bad', unauthorizedMeansKas: true }).agents(),
      'KAS_UNAUTHORIZED',
    );
  });

  it('times out when headers do not arrive', async () => {
    server = await serve(() => undefined); // never answers
    await expectCode(requestJson({ baseUrl: server.url, authorization: 'Bearer t', timeoutMs: 200 }, 'slow'), 'TIMEOUT');
  });

  it('times out when the body stalls after the headers', async () => {
    server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"agents":['); // and nothing more
    });
    await expectCode(requestJson({ baseUrl: server.url, authorization: 'Bearer t', timeoutMs: 300 }, 'stall'), 'TIMEOUT');
  });

  it('rejects non-http URLs and credentials in URLs', async () => {
    await expectCode(requestJson({ baseUrl: 'file:///etc/passwd', authorization: 'x' }, 'a'), 'BAD_URL');
    await expectCode(requestJson({ baseUrl: 'https://user:pw@example.invalid/', authorization: 'x' }, 'a'), 'BAD_URL');
  });

  it('keeps a base path prefix when joining', () => {
    assert.equal(joinUrl('https://h:1/k8s-proxy/', '/api/v1/pods').toString(), 'https://h:1/k8s-proxy/api/v1/pods');
    assert.equal(joinUrl('https://h:1/k8s-proxy', 'api').toString(), 'https://h:1/k8s-proxy/api');
  });

  it('reports nothing listening as UNREACHABLE', async () => {
    const gone = await serve(() => undefined);
    await gone.close();
    await expectCode(requestJson({ baseUrl: gone.url, authorization: 't' }, 'x'), 'UNREACHABLE');
  });

  it('parses the kas agents contract and rejects malformed answers', async () => {
    server = await serve((req, res) => {
      assert.equal(req.headers.authorization, 'Bearer user-token');
      if (req.url === '/api/v1/agents') {
        res.end(
          JSON.stringify({
            agents: [
              {
                id: 7,
                name: 'dev',
                configProject: 'g/p',
                config: { commit: 'abc', valid: false, errors: [{ message: 'bad', line: 2, column: 3 }] },
                connections: [{ podName: 'agentk-0', podNamespace: 'ns', version: 'v1', connectedSince: '2026-01-01T00:00:00Z' }],
              },
            ],
          }),
        );
      } else {
        res.end('not json');
      }
    });
    const agents = await new KasApi({ baseUrl: server.url, authorization: 'Bearer user-token' }).agents();
    assert.equal(agents[0]?.id, '7');
    assert.equal(agents[0]?.config.valid, false);
    assert.equal(agents[0]?.connections.length, 1);
    await expectCode(new KasApi({ baseUrl: server.url, authorization: 'Bearer user-token' }).version(), 'BAD_RESPONSE');
  });

  describe('over TLS', () => {
    let tlsServer: https.Server | undefined;
    let dir = '';
    let url = '';
    let caPem = '';
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ext-http-'));
      const ca = createCertificateAuthority();
      const cert = issueServerCertificate(ca, LOOPBACK_HOSTS);
      caPem = ca.certPem;
      tlsServer = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('{"version":"1.2.3"}'));
      await new Promise<void>((resolve) => tlsServer!.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/`;
    });
    after(async () => {
      tlsServer?.closeAllConnections();
      await new Promise((resolve) => tlsServer?.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });

    it('trusts the server with the CA file and refuses it without', async () => {
      const caFile = join(dir, 'ca.pem');
      await writeFile(caFile, caPem);
      const version = await new KasApi({ baseUrl: url, authorization: 'Bearer t', caPem: await readCaFile(caFile) }).version();
      assert.equal(version, '1.2.3');
      await expectCode(new KasApi({ baseUrl: url, authorization: 'Bearer t' }).version(), 'TLS_ERROR');
    });

    it('reports a missing CA file as CA_FILE_UNREADABLE', async () => {
      await expectCode(readCaFile(join(dir, 'missing.pem')), 'CA_FILE_UNREADABLE');
    });
  });
});
