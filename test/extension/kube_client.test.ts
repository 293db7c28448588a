// The extension's Kubernetes access (client-node through the kube layer) against real local
// servers: redirects refused for every kind of call without contacting the target, upstream text
// and tokens kept out of errors, timeouts, TLS with the connection's CA, the k8s proxy's path
// prefix and credential, and a watch's in-stream 410 reported as GONE. And the activation
// bundle: client-node only in the lazily loaded second bundle.
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { KasClientError, userMessage } from '../../extension/src/kas_client/errors';
import type { KubeClient } from '../../extension/src/kas_client/kube_client';
import { kubeClientFor } from '../../extension/src/kube/load';
import { loadKubeLayer } from '../../extension/src/kube/load';
import { serve, TestServer } from './helpers';

const TOKEN = 'pat:7:very-secret-user-token';

async function expectCode(promise: Promise<unknown>, code: string): Promise<KasClientError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof KasClientError, `expected a KasClientError, got ${String(error)}`);
  assert.equal(error.code, code);
  assert.ok(!error.message.includes('very-secret'), 'the token never appears in an error');
  return error;
}

/** Every call the extension makes, each expected to fail the same way. */
function everyCall(client: KubeClient): Record<string, () => Promise<unknown>> {
  const abort = new AbortController();
  return {
    list: () => client.listPods('default'),
    namespaces: () => client.listNamespaces(),
    read: () => client.readPod('default', 'web'),
    delete: () => client.deletePod('default', 'web'),
    watch: () => client.watchPods('default', { resourceVersion: '1' }, () => undefined, abort.signal),
    log: () => client.streamLogs('default', 'web', { container: 'main', follow: true }),
  };
}

describe('extension Kubernetes access (client-node)', () => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function track(server: Promise<TestServer>): Promise<TestServer> {
    const started = await server;
    servers.push(started);
    return started;
  }

  it('refuses a redirect for list, watch, log, read and delete, and never contacts its target', async () => {
    const target = await track(serve((_req, res) => res.end('{"kind":"PodList","items":[]}')));
    const redirecting = await track(
      serve((req, res) => {
        res.writeHead(302, { Location: `${target.url}stolen${req.url ?? ''}` });
        res.end();
      }),
    );
    const client = await kubeClientFor({ server: `${redirecting.url}k8s-proxy/`, token: TOKEN });
    for (const [name, call] of Object.entries(everyCall(client))) {
      const error = await expectCode(call(), 'REDIRECT_REFUSED').catch((e: unknown) => assert.fail(`${name}: ${String(e)}`));
      assert.equal(error.status, 302, name);
    }
    assert.deepEqual(target.hits, [], 'the redirect target was never contacted');
    assert.equal(redirecting.hits.length, 6);
  });

  it('gives managed apps (client-node API clients and Watch from the shared KubeConfig factory) the same refusal', async () => {
    const target = await track(serve((_req, res) => res.end('{}')));
    const redirecting = await track(
      serve((_req, res) => {
        res.writeHead(307, { Location: `${target.url}elsewhere` });
        res.end();
      }),
    );
    const layer = await loadKubeLayer();
    const kubeConfig = layer.createKubeConfig({ server: redirecting.url, token: TOKEN });
    const core = kubeConfig.makeApiClient(layer.clientNode.CoreV1Api);
    const listed = await core.listNamespacedConfigMap({ namespace: 'gitlab-managed-apps' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((listed as { code?: unknown }).code, 307);
    const watched = await new Promise<unknown>((resolve) => {
      void new layer.clientNode.Watch(kubeConfig).watch('/api/v1/namespaces/gitlab-managed-apps/pods', {}, () => undefined, resolve);
    });
    assert.equal((watched as { statusCode?: unknown }).statusCode, 307);
    assert.deepEqual(target.hits, []);
  });

  it('sends the pat credential to the proxy URL with its path prefix kept', async () => {
    const seen: string[] = [];
    const kas = await track(
      serve((req, res) => {
        seen.push(`${req.headers.authorization} ${req.url}`);
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify({
            kind: 'NamespaceList',
            apiVersion: 'v1',
            metadata: {},
            items: [{ metadata: { name: 'b' } }, { metadata: { name: 'a' } }],
          }),
        );
      }),
    );
    const client = await kubeClientFor({ server: `${kas.url}k8s-proxy/`, token: TOKEN });
    assert.deepEqual(await client.listNamespaces(), ['b', 'a']);
    assert.deepEqual(seen, [`Bearer ${TOKEN} /k8s-proxy/api/v1/namespaces`]);
  });

  it('maps statuses to codes and never passes on upstream text', async () => {
    const kas = await track(
      serve((req, res) => {
        const kasRefusal = req.url?.includes('/namespaces/kas/');
        res.writeHead(req.url?.includes('/namespaces/gone/') ? 404 : 401, {
          'Content-Type': 'application/json',
          ...(kasRefusal ? { 'Gitlab-Unauthorized': 'true' } : {}),
        });
        res.end(JSON.stringify({ kind: 'Status', code: 401, message: '<script>evil upstream text</script>' }));
      }),
    );
    const client = await kubeClientFor({ server: kas.url, token: TOKEN });
    const byKas = await expectCode(client.listPods('kas'), 'KAS_UNAUTHORIZED');
    assert.equal(userMessage(byKas), 'KAS_UNAUTHORIZED: the token was refused');
    const byCluster = await expectCode(client.readPod('cluster', 'web'), 'CLUSTER_UNAUTHORIZED');
    assert.ok(!byCluster.message.includes('evil'));
    await expectCode(client.streamLogs('kas', 'web', {}), 'KAS_UNAUTHORIZED');
    await expectCode(client.deletePod('gone', 'web'), 'NOT_FOUND');
  });

  it('times out when headers do not arrive, for requests, watch and logs', async () => {
    const silent = await track(serve(() => undefined));
    const client = await kubeClientFor({ server: silent.url, token: TOKEN, timeoutMs: 300 });
    await expectCode(client.listPods('default'), 'TIMEOUT');
    await expectCode(
      client.watchPods('default', { resourceVersion: '1' }, () => undefined, new AbortController().signal),
      'TIMEOUT',
    );
    await expectCode(client.streamLogs('default', 'web', {}), 'TIMEOUT');
  });

  it('reports nothing listening as UNREACHABLE', async () => {
    const gone = await serve(() => undefined);
    await gone.close();
    const client = await kubeClientFor({ server: gone.url, token: TOKEN });
    await expectCode(client.listPods('default'), 'UNREACHABLE');
    await expectCode(
      client.watchPods('default', { resourceVersion: '1' }, () => undefined, new AbortController().signal),
      'UNREACHABLE',
    );
  });

  it('delivers watch events and reports an in-stream 410 as GONE', async () => {
    const kas = await track(
      serve((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'web', resourceVersion: '5' } } })}\n`);
        res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } })}\n`);
      }),
    );
    const client = await kubeClientFor({ server: kas.url, token: TOKEN });
    const names: string[] = [];
    await expectCode(
      client.watchPods(
        'default',
        { resourceVersion: '1' },
        (event) => names.push(`${event.type} ${event.object.metadata?.name}`),
        new AbortController().signal,
      ),
      'GONE',
    );
    assert.deepEqual(names, ['ADDED web']);
    assert.match(kas.hits[0] ?? '', /watch=true/);
    assert.match(kas.hits[0] ?? '', /resourceVersion=1/);
  });

  it('ends a watch quietly when its signal aborts', async () => {
    const kas = await track(
      serve((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'web' } } })}\n`); // then stays open
      }),
    );
    const client = await kubeClientFor({ server: kas.url, token: TOKEN });
    const abort = new AbortController();
    let events = 0;
    const watching = client.watchPods(
      'default',
      { resourceVersion: '1' },
      () => {
        events++;
        abort.abort();
      },
      abort.signal,
    );
    await expectCode(watching, 'CANCELLED');
    assert.equal(events, 1);
  });

  describe('over TLS', () => {
    let tlsServer: https.Server | undefined;
    let url = '';
    let caPem = '';
    before(async () => {
      const ca = createCertificateAuthority();
      const cert = issueServerCertificate(ca, LOOPBACK_HOSTS);
      caPem = ca.certPem;
      tlsServer = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify({
            kind: 'PodList',
            apiVersion: 'v1',
            metadata: { resourceVersion: '42' },
            items: [{ metadata: { name: 'web', creationTimestamp: '2026-01-01T00:00:00Z' } }],
          }),
        );
      });
      await new Promise<void>((resolve) => tlsServer!.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/`;
    });
    after(async () => {
      tlsServer?.closeAllConnections();
      await new Promise((resolve) => tlsServer?.close(resolve));
    });

    it('trusts the server with the connection CA and refuses it without', async () => {
      const list = await (await kubeClientFor({ server: url, token: TOKEN, caPem })).listPods('default');
      assert.equal(list.resourceVersion, '42');
      assert.equal(list.items[0]?.metadata?.name, 'web');
      assert.ok(list.items[0]?.metadata?.creationTimestamp instanceof Date, 'client-node deserialises timestamps');
      await expectCode((await kubeClientFor({ server: url, token: TOKEN })).listPods('default'), 'TLS_ERROR');
    });
  });

  describe('the activation bundle', () => {
    const bundle = join(__dirname, '..', '..', 'dist', 'extension.js');
    it('leaves client-node to dist/extension-kube.js, required on first cluster use', function () {
      if (!existsSync(bundle)) this.skip(); // npm test builds first; a bare mocha run may not have
      const text = readFileSync(bundle, 'utf8');
      assert.match(text, /require\("\.\/extension-kube\.js"\)/);
      for (const marker of ['ObjectSerializer', 'loadFromOptions', 'IsomorphicFetchHttpLibrary']) {
        assert.ok(!text.includes(marker), `dist/extension.js contains ${marker}: client-node was bundled into the activation path`);
      }
      assert.ok(existsSync(join(__dirname, '..', '..', 'dist', 'extension-kube.js')));
    });
  });
});
