// agentk in its in-cluster mode, started as the kubelet would start it (the service account
// files and env vars, pointing at the dev cluster, no kubeconfig): it connects to kas, reports
// its pod name and namespace, serves kubectl through the tunnel with the service account's own
// rights (a Role in one namespace only), and picks up a rotated token from disk within seconds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type AgentkProcess, NAMESPACE, SERVICE_ACCOUNT_USER, spawnAgentk, startStack, waitUntil, type Stack } from './harness';

describe('agentk in-cluster mode against the dev cluster', function () {
  this.timeout(120_000);
  let stack: Stack;
  let agentk: AgentkProcess | undefined;
  let saDir: string;

  before(async () => {
    stack = await startStack({ kind: 'namespaced', namespaces: ['shop'] });
    saDir = await stack.serviceAccountDir('agentk-0');
    agentk = spawnAgentk(stack, 'agentk-0', saDir);
  });
  after(async () => {
    await agentk?.kill();
    await stack?.stop();
  });

  it('connects to kas and reports its pod name and namespace (REST API, connected replicas)', async () => {
    const connections = await waitUntil('agentk connected', async () => {
      const list = await stack.connections();
      return list.length > 0 ? list : undefined;
    });
    assert.equal(connections[0]!.podName, 'agentk-0');
    assert.equal(connections[0]!.podNamespace, NAMESPACE);
    assert.match(agentk!.output(), /"inCluster":true/);
  });

  it("leads its agent's Lease with only the manifest's leader-election Role (namespaced access)", async () => {
    await waitUntil('agentk leads', () => (agentk!.output().includes('became the leader') ? true : undefined));
    const lease = await stack.admin(['get', 'lease', 'gitlab-agent-dev-leader', '-n', NAMESPACE, '-o', 'jsonpath={.spec.holderIdentity}']);
    assert.match(lease.stdout, /^agentk-0_/);
  });

  it('serves kubectl through the tunnel with the service account, limited to its Role', async () => {
    const created = await stack.kubectl(['create', 'configmap', 'through-kas', '-n', 'shop', '--from-literal=a=b']);
    assert.equal(created.code, 0, created.stderr + agentk!.output());
    const got = await stack.admin(['get', 'configmap', 'through-kas', '-n', 'shop', '-o', 'jsonpath={.data.a}']);
    assert.equal(got.stdout, 'b');
    const outside = await stack.kubectl(['get', 'configmaps', '-n', 'default']);
    assert.notEqual(outside.code, 0);
    assert.ok(outside.stderr.includes(SERVICE_ACCOUNT_USER), `forbidden as the service account: ${outside.stderr}`);
  });

  it('uses a rotated token from disk within seconds, not a minute later', async () => {
    const tokenFile = path.join(saDir, 'token');
    // A token the cluster does not know: the next credential refresh sends it and is refused.
    writeFileSync(tokenFile, 'rotated-but-not-yet-valid');
    const started = Date.now();
    await waitUntil('requests refused with the unknown token', async () => {
      const result = await stack.kubectl(['get', 'configmaps', '-n', 'shop']);
      return result.code !== 0 && /Unauthorized|unauthorized|401/.test(result.stderr) ? true : undefined;
    });
    const refusedAfter = Date.now() - started;
    // The kubelet writes the next valid token: served again without a restart.
    writeFileSync(tokenFile, await stack.newServiceAccountToken());
    const rotated = Date.now();
    await waitUntil('requests served with the new token', async () => {
      const result = await stack.kubectl(['get', 'configmaps', '-n', 'shop', '-o', 'name']);
      return result.code === 0 ? true : undefined;
    });
    const servedAfter = Date.now() - rotated;
    process.stdout.write(`      token rotation picked up: refused after ${refusedAfter} ms, served again after ${servedAfter} ms\n`);
    assert.ok(refusedAfter < 15_000 && servedAfter < 15_000, `${refusedAfter} / ${servedAfter} ms`);
    assert.equal(agentk!.child.exitCode, null, 'agentk kept running');
  });

  it('refuses to start in-cluster without KUBERNETES_SERVICE_PORT, with one clear line', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', NODE_OPTIONS: '' };
    delete env.KUBERNETES_SERVICE_PORT;
    delete env.KUBECONFIG;
    const result = spawnSync(
      process.execPath,
      [
        path.join(__dirname, '..', '..', 'dist', 'agentk.js'),
        '--kas-address=grpc://127.0.0.1:1',
        `--token-file=${stack.agentTokenFile}`,
        `--service-account-dir=${saDir}`,
      ],
      { encoding: 'utf8', timeout: 20_000, env },
    );
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^error: in-cluster mode needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT\n$/);
  });
});
