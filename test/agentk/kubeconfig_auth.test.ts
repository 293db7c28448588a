// The built agentk (dist/agentk.js, `node esbuild.mjs agentk`) authenticates to the cluster with
// the kubeconfig credential kinds whose code its bundle loads only on first use (esbuild.mjs,
// kubeconfig-helpers-on-first-use): an exec plugin, the oidc and gcp auth providers. Each runs for
// real: the exec plugin and gcp's cmd-path are scripts agentk starts, the oidc id-token is read
// from the kubeconfig. The cluster is an HTTPS server that answers only the expected Bearer token.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { AGENT_TOKEN, makeTempDir, request, startKas, stopProcess, userAuth, type Kas } from '../modules/reverse_tunnel/harness';

const AGENTK = path.join(__dirname, '..', '..', 'dist', 'agentk.js');

interface Cluster {
  url: string;
  caPem: string;
  /** Authorization headers of the requests it answered 401. */
  refused: string[];
  stop(): Promise<void>;
}

/** An API server stand-in that answers 200 only to `Bearer <token>`, 401 to anything else. */
async function startCluster(token: string): Promise<Cluster> {
  const ca = createCertificateAuthority();
  const serving = issueServerCertificate(ca, LOOPBACK_HOSTS);
  const refused: string[] = [];
  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      refused.push(req.headers.authorization ?? '(none)');
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caPem: ca.certPem,
    refused,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An unsigned JWT whose exp is an hour away: client-node's oidc provider uses it as it is. */
function idToken(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: 'https://idp.invalid', exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
}

function script(dir: string, name: string, output: object): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify(output)}\nEOF\n`);
  chmodSync(file, 0o755);
  return file;
}

const credentialKinds: Array<{ kind: string; token: string; user: (dir: string, token: string) => object }> = [
  {
    kind: 'an exec plugin (ExecCredential from a script)',
    token: 'exec-plugin-token',
    user: (dir, token) => ({
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: script(dir, 'credential.sh', {
          apiVersion: 'client.authentication.k8s.io/v1',
          kind: 'ExecCredential',
          status: { token },
        }),
        interactiveMode: 'Never',
      },
    }),
  },
  {
    kind: 'the oidc auth provider (an id-token in the kubeconfig)',
    token: idToken(),
    user: (_dir, token) => ({
      'auth-provider': { name: 'oidc', config: { 'client-id': 'agentk', 'idp-issuer-url': 'https://idp.invalid', 'id-token': token } },
    }),
  },
  {
    kind: 'the gcp auth provider (a cmd-path helper)',
    token: 'gcp-helper-token',
    user: (dir, token) => ({
      'auth-provider': {
        name: 'gcp',
        config: {
          'cmd-path': script(dir, 'gcloud.sh', { credential: { access_token: token, token_expiry: '2099-01-01T00:00:00Z' } }),
          'cmd-args': 'config config-helper --format=json',
          'token-key': '{.credential.access_token}',
          'expiry-key': '{.credential.token_expiry}',
        },
      },
    }),
  },
];

describe('agentk bundle: kubeconfig credentials whose code loads on first use', function () {
  this.timeout(60_000);
  let dir: string;
  let kas: Kas;
  const cleanups: Array<() => Promise<void>> = [];

  before(async function () {
    if (!existsSync(AGENTK)) throw new Error(`${AGENTK} is missing: run node esbuild.mjs agentk first`);
    dir = await makeTempDir();
    kas = await startKas();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  after(async () => {
    await kas?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const { kind, token, user } of credentialKinds) {
    it(`authenticates with ${kind}`, async () => {
      const cluster = await startCluster(token);
      cleanups.push(() => cluster.stop());
      const kubeconfig = path.join(dir, `kubeconfig-${token.slice(0, 8)}.yaml`);
      writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            { name: 'c', cluster: { server: cluster.url, 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') } },
          ],
          users: [{ name: 'u', user: user(dir, token) }],
          contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'c',
        }),
      );
      const agentk: ChildProcess = spawn(
        process.execPath,
        [AGENTK, `--kas-address=${kas.grpcAddress}`, `--kubeconfig=${kubeconfig}`, '--observability-listen-address=127.0.0.1:0'],
        { env: { ...process.env, NODE_OPTIONS: '', AGENTK_TOKEN: AGENT_TOKEN }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      agentk.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      cleanups.push(() => stopProcess(agentk));
      // agentk is connected once kas routes to it: a 200 then comes from the cluster itself.
      const deadline = Date.now() + 30_000;
      let res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      while (res.status !== 200 && Date.now() < deadline && agentk.exitCode === null && cluster.refused.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
        res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      }
      assert.deepEqual(cluster.refused, [], `the cluster saw other credentials; agentk said: ${stderr}`);
      assert.equal(res.status, 200, `${res.body}\nagentk said: ${stderr}`);
      assert.equal((JSON.parse(res.body) as { kind: string }).kind, 'PodList');
    });
  }
});
