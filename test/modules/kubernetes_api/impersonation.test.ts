// access_as through the tunnel: which Impersonate-* headers reach the Kubernetes API, and the
// metrics both ends expose.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import { register } from 'prom-client';
import WebSocket from 'ws';
import type { Agentk } from '../../../agent/agentk';
import type { ProxyAuthorization } from '../../../agent/modules/kubernetes_api';
import {
  makeTempDir,
  request,
  startAgentk,
  startKas,
  startUpstream,
  userAuth,
  waitForIdleTunnels,
  writeKubeconfig,
  type Kas,
  type Upstream,
} from '../reverse_tunnel/harness';

describe('tunnel: access_as impersonation and metrics', function () {
  let upstream: Upstream;
  let dir: string;
  let kas: Kas;
  let agentk: Agentk;
  let authorization: ProxyAuthorization = { allowed: true, accessAs: { agent: {} } };

  before(async () => {
    upstream = await startUpstream();
    dir = await makeTempDir();
    kas = await startKas({ authorizeUser: async () => authorization });
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: await writeKubeconfig(dir, upstream.url) });
    await waitForIdleTunnels(kas.registry);
  });
  after(async () => {
    await agentk.stop();
    await kas.stop();
    await upstream.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function upstreamHeaders(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: { ...userAuth(), ...extra } });
    assert.equal(res.status, 200, res.body);
    return (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
  }

  it('access_as agent: no impersonation added, the client may impersonate', async () => {
    authorization = { allowed: true, accessAs: { agent: {} } };
    assert.equal((await upstreamHeaders())['impersonate-user'], undefined);
    assert.equal((await upstreamHeaders({ 'Impersonate-User': 'alice' }))['impersonate-user'], 'alice');
  });

  it('access_as impersonate: sets user, groups, uid and extra', async () => {
    authorization = {
      allowed: true,
      accessAs: { impersonate: { username: 'deployer', groups: ['ops', 'dev'], uid: 'u-1', extra: [{ key: 'team', val: ['a', 'b'] }] } },
    };
    const headers = await upstreamHeaders();
    assert.equal(headers['impersonate-user'], 'deployer');
    assert.equal(headers['impersonate-group'], 'ops, dev');
    assert.equal(headers['impersonate-uid'], 'u-1');
    assert.equal(headers['impersonate-extra-team'], 'a, b');
  });

  it('access_as user: impersonates gitlab:user:<name> with the groups kas names', async () => {
    authorization = {
      allowed: true,
      accessAs: { user: {} },
      user: { username: 'alice', groups: ['gitlab:user', 'gitlab:group_role:g:developer'] },
    };
    const headers = await upstreamHeaders();
    assert.equal(headers['impersonate-user'], 'gitlab:user:alice');
    assert.equal(headers['impersonate-group'], 'gitlab:user, gitlab:group_role:g:developer');
  });

  it('refuses client Impersonate-* headers unless access_as is agent', async () => {
    authorization = { allowed: true, accessAs: { user: {} }, user: { username: 'alice', groups: [] } };
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: { ...userAuth(), 'Impersonate-User': 'system:admin' } });
    assert.equal(res.status, 403);
    assert.match((JSON.parse(res.body) as { message: string }).message, /Impersonate-\* headers are allowed only/);
  });

  it('applies impersonation to upgraded connections too', async () => {
    authorization = { allowed: true, accessAs: { impersonate: { username: 'exec-user' } } };
    const ws = new WebSocket(`${kas.proxyUrl.replace(/^http/, 'ws')}/api/v1/namespaces/default/pods/p/exec`, { headers: userAuth() });
    try {
      const greeting = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data) => resolve(data.toString()));
        ws.once('error', reject);
      });
      assert.equal(greeting, 'hello exec-user');
    } finally {
      ws.close();
    }
  });

  it('passes a cluster 401 through without kas’s marker header', async () => {
    authorization = { allowed: true, accessAs: { agent: {} } };
    const res = await request(`${kas.proxyUrl}/status/401`, { headers: userAuth() });
    assert.equal(res.status, 401);
    assert.equal(res.headers['gitlab-unauthorized'], undefined);
    assert.match(res.body, /from the cluster/);
  });

  it('exposes tunnel and proxy metrics (kas in the default register, agentk on /metrics)', async () => {
    const kasMetrics = await register.metrics();
    assert.match(kasMetrics, /kas_tunnels_idle\{agent_id="42"\} [1-9]/);
    assert.match(kasMetrics, /kas_tunnels_busy\{agent_id="42"\} \d/);
    assert.match(kasMetrics, /kas_k8s_proxy_request_duration_seconds_count\{status="200"\} [1-9]/);
    const agentkMetrics = await request(`http://${agentk.observabilityAddress}/metrics`);
    assert.equal(agentkMetrics.status, 200);
    assert.match(agentkMetrics.body, /agentk_tunnels_idle [1-9]/);
    assert.equal((await request(`http://${agentk.observabilityAddress}/liveness`)).status, 200);
  });

  it('lists the connected replica with pod name, namespace, version and connection time', () => {
    const [agent] = kas.registry.connectedAgents();
    assert.equal(agent?.agentName, 'dev');
    const replica = agent?.replicas[0];
    assert.equal(replica?.podName, 'agentk-test');
    assert.equal(replica?.podNamespace, 'tests');
    assert.equal(replica?.version, '0.1.0');
    assert.ok(replica && replica.connectedSince.getTime() <= Date.now());
  });
});
