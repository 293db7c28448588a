// End to end: real kubectl → kas (k8s proxy over TLS) → reverse tunnel → agentk → the dev
// cluster, with kas assembled by startKas from a real git config repository and token stores.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import path from 'node:path';
import { stringify } from 'yaml';
import { runAgentk, type Agentk } from '../../agent/agentk/index';
import { startDevCluster, type DevCluster } from '../../agent/devtools/devcluster/index';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { startKas, type Kas } from '../../agent/kas/index';
import { watchAgentConfiguration, type ConfigurationWatch } from '../../agent/modules/agent_configuration/agentk';
import type { AgentConfig } from '../../agent/shared/agent_config';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from './helpers';

const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';

function kubectl(kubeconfig: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, '--request-timeout=30s', ...args],
      { encoding: 'utf8' },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

const CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e2e\n  namespace: default\ndata:\n  a: b\n';

function writeUserKubeconfig(file: string, server: string, caPem: string, token: string): void {
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'kas', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: 'user', user: { token } }],
      contexts: [{ name: 'kas', context: { cluster: 'kas', user: 'user' } }],
      'current-context': 'kas',
    }),
  );
}

function httpsGet(url: string, ca: string, token: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('kas end to end: kubectl through kas and agentk to the dev cluster', function () {
  this.timeout(120_000);
  let temp: ReturnType<typeof makeTempDir>;
  let repo: TestRepository;
  let cluster: DevCluster | undefined;
  let kas: Kas | undefined;
  let agentk: Agentk | undefined;
  let configWatch: ConfigurationWatch | undefined;
  let kubeconfig: string;
  let agentId: number;
  let caPem: string;
  const received: Array<{ config: AgentConfig; commit: string }> = [];

  before(async () => {
    temp = makeTempDir('kas-e2e-');
    repo = new TestRepository(temp.dir);
    repo.commit({
      [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n',
      '.gitlab/agents/closed/config.yaml': 'ci_access:\n  projects:\n    - id: apps/shop\n',
      '.gitlab/agents/idle/config.yaml': 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n',
    });
    const clusterKubeconfig = path.join(temp.dir, 'cluster.kubeconfig');
    cluster = await startDevCluster({ kubeconfigOut: clusterKubeconfig, logger: testLogger() });

    const ca = createCertificateAuthority();
    caPem = ca.certPem;
    const serving = issueServerCertificate(ca, LOOPBACK_HOSTS);
    writeFileSync(path.join(temp.dir, 'kas.crt'), serving.certPem);
    writeFileSync(path.join(temp.dir, 'kas.key'), serving.keyPem);
    const tlsFiles = { certificate_file: path.join(temp.dir, 'kas.crt'), key_file: path.join(temp.dir, 'kas.key') };
    kas = await startKas(
      testKasConfig(repo.dir, path.join(temp.dir, 'data'), {
        agent: { kubernetes_api: { listen: tlsFiles } },
        kas: { agent_wait_timeout: '2s' },
      }),
      testLogger(),
    );
    const agentToken = (await kas.registry.agentTokens.create('dev')).token;
    agentId = kas.registry.watcher.agentByName('dev')!.id;

    agentk = await runAgentk({
      kasAddress: `grpc://${kas.agentAddress}`,
      token: agentToken,
      kubeconfig: clusterKubeconfig,
      observabilityAddress: null,
      podName: 'agentk-e2e',
      podNamespace: 'agents',
      logger: testLogger(),
    });
    configWatch = watchAgentConfiguration({
      connection: agentk.kas,
      agentMeta: { podName: 'agentk-e2e', podNamespace: 'agents' },
      onConfig: (config, commit) => received.push({ config, commit }),
      logger: testLogger(),
    });

    const userToken = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
    kubeconfig = path.join(temp.dir, 'user.kubeconfig');
    writeUserKubeconfig(kubeconfig, kas.k8sProxyUrl.replace(/\/$/, ''), ca.certPem, `pat:${agentId}:${userToken}`);
  });

  after(async () => {
    configWatch?.stop();
    await agentk?.stop();
    await kas?.stop();
    await cluster?.stop();
    temp?.remove();
  });

  it('lists namespaces and applies and deletes a config map with kubectl', async () => {
    const namespaces = await kubectl(kubeconfig, ['get', 'namespaces', '-o', 'name']);
    assert.equal(namespaces.code, 0, namespaces.stderr);
    assert.match(namespaces.stdout, /namespace\/default/);
    const created = await kubectl(kubeconfig, ['apply', '-f', '-'], CONFIG_MAP);
    assert.equal(created.code, 0, created.stderr);
    const got = await kubectl(kubeconfig, ['get', 'configmap', 'e2e', '-n', 'default', '-o', 'jsonpath={.data.a}']);
    assert.equal(got.stdout, 'b');
    assert.equal((await kubectl(kubeconfig, ['delete', 'configmap', 'e2e', '-n', 'default'])).code, 0);
  });

  it('refuses a wrong user token with 401 from kas itself', async () => {
    const file = path.join(temp.dir, 'wrong.kubeconfig');
    writeFileSync(file, readFileSync(kubeconfig, 'utf8').replace(/token: .*/, `token: pat:${agentId}:kut_wrong`));
    const result = await kubectl(file, ['get', 'namespaces', '-v=6']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /401/);
    assert.match(result.stderr, /kas: /, 'the error message names kas');
    const direct = await httpsGet(`${kas!.k8sProxyUrl}api/v1/namespaces`, caPem, `pat:${agentId}:kut_wrong`);
    assert.equal(direct.status, 401);
    assert.equal(direct.headers['gitlab-unauthorized'], 'true', "kas's marker header tells its 401 from the cluster's");
    assert.equal(JSON.parse(direct.body).kind, 'Status');
  });

  it('answers 403 through an agent without user_access', async () => {
    const closedId = kas!.registry.watcher.agentByName('closed')!.id;
    const file = path.join(temp.dir, 'closed.kubeconfig');
    writeFileSync(file, readFileSync(kubeconfig, 'utf8').replace(/token: pat:\d+:/, `token: pat:${closedId}:`));
    const forbidden = await kubectl(file, ['get', 'namespaces']);
    assert.notEqual(forbidden.code, 0);
    assert.match(forbidden.stderr, /user_access|forbidden/i);
  });

  it('answers 504 "not connected" after the wait (2 s here) for an agent with no agentk', async () => {
    const idleId = kas!.registry.watcher.agentByName('idle')!.id;
    const file = path.join(temp.dir, 'idle.kubeconfig');
    writeFileSync(file, readFileSync(kubeconfig, 'utf8').replace(/token: pat:\d+:/, `token: pat:${idleId}:`));
    const result = await kubectl(file, ['get', 'namespaces']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`agent ${idleId} is not connected`));
  });

  it('shows the connected agentk in the REST API', async () => {
    const userToken = (await kas!.registry.userTokens.create({ kind: 'user', username: 'bob', groups: [], projects: [] })).token;
    const response = await fetch(`${kas!.apiUrl}api/v1/agents/${agentId}`, { headers: { authorization: `Bearer ${userToken}` } });
    const agent = (await response.json()) as {
      name: string;
      connections: Array<{ podName: string; podNamespace: string; version: string }>;
    };
    assert.equal(agent.name, 'dev');
    assert.deepEqual(
      agent.connections.map((c) => [c.podNamespace, c.podName]),
      [['agents', 'agentk-e2e']],
    );
    assert.ok(agent.connections[0]!.version, 'the version comes from the tunnel descriptor');
  });

  it('delivers a config commit to the agentk connection within about a second', async () => {
    const waitFor = async (match: (r: { commit: string }) => boolean) => {
      for (let i = 0; i < 100 && !received.some(match); i++) await new Promise((r) => setTimeout(r, 50));
      return received.find(match);
    };
    assert.ok(await waitFor(() => true), 'no initial config');
    const committedAt = Date.now();
    const commit = repo.commit({
      [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n    - id: apps\n',
    });
    const next = await waitFor((r) => r.commit === commit);
    assert.ok(next, 'the new config did not arrive');
    console.log(`      config commit reached agentk after ${Date.now() - committedAt} ms (upper bound)`);
    assert.deepEqual(next.config.user_access?.groups, [{ id: 'platform' }, { id: 'apps' }]);
  });
});
