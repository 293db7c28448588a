// An agent built from the reference's .proto files (the test's own proto text, a stock grpc-js
// client) against our kas: it receives its configuration as agentcfg.AgentConfiguration (and the
// next one after a commit), and serves proxied requests — a GET, a streamed response, a
// WebSocket upgrade — through kas's Kubernetes API proxy, with the impersonation kas decided; a
// newer agent's AgentRegistrar/Register makes its pod a connected replica until it expires.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { startKas, type Kas } from '../../../agent/kas/index';
import { referenceAgentConfiguration } from '../../../agent/modules/agent_configuration/reference_config';
import {
  deserializeRefConfigurationResponse,
  serializeRefConfigurationResponse,
} from '../../../agent/modules/reverse_tunnel/reference/wire';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';
import { startUpstream, type Upstream } from './harness';
import {
  KUBERNETES_API_DESCRIPTOR,
  ReverseTunnelClient,
  bearer,
  registerReference,
  startReferenceAgent,
  watchReferenceConfiguration,
  type ReferenceAgent,
  type TunnelCall,
} from './reference_agent';

const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';
const CONFIG = [
  'user_access:',
  '  access_as:',
  '    user: {}',
  '  groups:',
  '    - id: platform',
  'observability:',
  '  logging:',
  '    level: debug',
  'ci_access:',
  '  projects:',
  '    - id: team/app',
  '      default_namespace: apps',
  '',
].join('\n');

describe('reference protocol: an agent built from the reference .proto files, served by our kas', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let repo: TestRepository;
  let kas: Kas;
  let upstream: Upstream;
  let agentToken: string;
  let userToken: string;
  let agentId: number;
  const stops: Array<() => void> = [];

  before(async () => {
    temp = makeTempDir();
    repo = new TestRepository(temp.dir);
    repo.commit({ [CONFIG_PATH]: CONFIG }, 'add agent dev');
    kas = await startKas(
      testKasConfig(repo.dir, path.join(temp.dir, 'data'), { agent: { configuration: { poll_period: '60s' } } }),
      testLogger(),
    );
    agentToken = (await kas.registry.agentTokens.create('dev')).token;
    userToken = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
    agentId = kas.registry.watcher.agentByName('dev')!.id;
    upstream = await startUpstream();
  });

  // A test's agents go with it: one left connected would serve the next test's requests.
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });
  after(async () => {
    await kas?.stop();
    await upstream?.stop();
    temp?.remove();
  });

  function agent(): ReferenceAgent {
    const started = startReferenceAgent({ address: kas.agentAddress, token: agentToken, upstreamUrl: upstream.url });
    stops.push(() => started.stop());
    return started;
  }

  const auth = () => ({ authorization: `Bearer pat:${agentId}:${userToken}` });

  it('sends the configuration as agentcfg.AgentConfiguration with its commit id, and the next one after a commit', async () => {
    const watch = watchReferenceConfiguration({ address: kas.agentAddress, token: agentToken });
    stops.push(() => watch.stop());
    const first = await watch.next(() => true);
    assert.equal(first.commit_id, kas.registry.watcher.agentByName('dev')!.commit);
    assert.equal(first.configuration.agent_id, agentId);
    assert.equal(first.configuration.project_path, 'team/agents');
    assert.equal(first.configuration.observability.logging.level, 'debug');
    assert.deepEqual(first.configuration.ci_access.projects, [{ id: 'team/app', default_namespace: 'apps' }]);
    assert.equal(first.configuration.user_access, undefined, 'user_access stays with kas, as in the reference');

    const commit = repo.commit({ [CONFIG_PATH]: CONFIG.replace('level: debug', 'level: warn') }, 'quieter');
    const next = await watch.next((response) => response.commit_id === commit);
    assert.equal(next.configuration.observability.logging.level, 'warn');
    // The agent's own connection shows in the connected replicas, with the reference's agent_meta.
    const pods = kas.registry.connections.connectionsOf(agentId).map((connection) => connection.podName);
    assert.ok(pods.includes('reference-agent-0'), `connected: ${pods.join(', ')}`);
  });

  it('does not resend the commit the agent says it has', async () => {
    const current = kas.registry.watcher.agentByName('dev')!.commit!;
    const watch = watchReferenceConfiguration({ address: kas.agentAddress, token: agentToken, commitId: current });
    stops.push(() => watch.stop());
    const commit = repo.commit({ [CONFIG_PATH]: CONFIG }, 'back to debug');
    const next = await watch.next(() => true);
    assert.equal(next.commit_id, commit, 'the first configuration sent is the new commit, not the one the agent had');
  });

  it('sends an agent without config.yaml an empty configuration with its commit id', async () => {
    const commit = repo.commit({ '.gitlab/agents/bare/README.md': 'no config file\n' }, 'add agent bare');
    await kas.registry.watcher.refresh();
    const token = (await kas.registry.agentTokens.create('bare')).token;
    const watch = watchReferenceConfiguration({ address: kas.agentAddress, token });
    stops.push(() => watch.stop());
    const first = await watch.next(() => true);
    assert.equal(first.commit_id, commit);
    assert.deepEqual(Object.keys(first.configuration).sort(), ['agent_id', 'project_path']);
  });

  it('refuses GetConfiguration and Connect without a valid agent token', async () => {
    const watch = watchReferenceConfiguration({ address: kas.agentAddress, token: 'not-a-token' });
    stops.push(() => watch.stop());
    assert.equal((await watch.status).code, 16); // UNAUTHENTICATED
    const client = new ReverseTunnelClient(kas.agentAddress, grpc.credentials.createInsecure());
    stops.push(() => client.close());
    const call = client.Connect(bearer('not-a-token')) as TunnelCall;
    call.on('error', () => undefined);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.write(KUBERNETES_API_DESCRIPTOR);
    assert.equal((await status).code, 16);
  });

  it('records a Register as a connected replica (REST API and registry), one per pod id, and refuses a bad token', async () => {
    // Pod ids past 2^53 that a Number would merge: each is its own registration.
    const first = await registerReference({
      address: kas.agentAddress,
      token: agentToken,
      podName: 'registered-0',
      podId: '9007199254740993',
    });
    assert.equal(first.code, grpc.status.OK);
    const second = await registerReference({
      address: kas.agentAddress,
      token: agentToken,
      podName: 'registered-1',
      podId: '9007199254740992',
    });
    assert.equal(second.code, grpc.status.OK);
    const response = await fetch(`${kas.apiUrl}api/v1/agents/${agentId}`, { headers: { authorization: `Bearer ${userToken}` } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { connections: Array<{ podName: string; podNamespace: string; version: string }> };
    for (const podName of ['registered-0', 'registered-1']) {
      const replica = body.connections.find((c) => c.podName === podName);
      assert.deepEqual(replica && [replica.podNamespace, replica.version], ['gitlab-agent', 'v17.0.0'], JSON.stringify(body.connections));
    }
    assert.ok(kas.registry.connections.connectionsOf(agentId).some((c) => c.podName === 'registered-1'));

    const refused = await registerReference({ address: kas.agentAddress, token: 'not-a-token', podName: 'intruder', podId: '1' });
    assert.equal(refused.code, grpc.status.UNAUTHENTICATED);
    assert.ok(!kas.registry.connections.connectionsOf(agentId).some((c) => c.podName === 'intruder'));
  });

  it("names the replica of the tunnel streams on the Register's connection", async () => {
    const reference = agent();
    const tunnelReplica = () =>
      kas.tunnels
        .connectedAgents()
        .find((a) => a.agentId === String(agentId))
        ?.replicas.find((r) => r.instanceId.startsWith('reference-connection-') && r.podName === 'tunnel-pod');
    const status = await registerReference({
      address: kas.agentAddress,
      token: agentToken,
      podName: 'tunnel-pod',
      podId: '7',
      channel: reference.channel,
    });
    assert.equal(status.code, grpc.status.OK);
    const deadline = Date.now() + 10_000;
    while (!tunnelReplica() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(tunnelReplica()?.podNamespace, 'gitlab-agent');
  });

  it('lets a registration expire unless the same pod registers again', async () => {
    const connections = kas.registry.connections;
    const pods = () => connections.connectionsOf(agentId).map((c) => c.podName);
    const meta = { podName: 'short-lived', podNamespace: 'gitlab-agent', version: 'v17.0.0' };
    connections.trackRegistration(agentId, '42', meta, 1_000);
    const since = connections.connectionsOf(agentId).find((c) => c.podName === 'short-lived')!.connectedSince;
    const renewUntil = Date.now() + 1_500;
    while (Date.now() < renewUntil) {
      connections.trackRegistration(agentId, '42', meta, 1_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(pods().includes('short-lived'), 'renewed within its ttl, it stays');
    assert.equal(connections.connectionsOf(agentId).find((c) => c.podName === 'short-lived')!.connectedSince, since);
    assert.equal(pods().filter((p) => p === 'short-lived').length, 1);
    const deadline = Date.now() + 5_000;
    while (pods().includes('short-lived') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(!pods().includes('short-lived'), 'gone once not renewed');
  });

  it('serves a proxied GET with the impersonation kas decided (access_as user)', async () => {
    const reference = agent();
    const res = await fetch(`${kas.k8sProxyUrl}api/v1/namespaces?limit=5&labelSelector=a%3Db`, { headers: auth() });
    assert.equal(res.status, 200);
    const echoed = (await res.json()) as { method: string; url: string; headers: Record<string, string> };
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.url, '/api/v1/namespaces?limit=5&labelSelector=a%3Db');
    assert.equal(echoed.headers['impersonate-user'], 'gitlab:user:ada');
    assert.equal(echoed.headers.authorization, undefined, "the user's credential never reaches the agent");
    const head = reference.requests.at(-1)!;
    assert.equal(head.request.url_path, '/api/v1/namespaces');
    assert.deepEqual(head.request.query.labelSelector, { value: ['a=b'] });
    assert.equal(head.content_length, 0);
    assert.deepEqual(head.imp, { username: 'gitlab:user:ada', groups: ['platform'] });
  });

  it('streams a response as the agent sends it (logs -f, watches)', async () => {
    agent();
    const res = await fetch(`${kas.k8sProxyUrl}stream`, { headers: auth() });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now();
    assert.match(Buffer.from(first.value!).toString(), /^line 0/);
    let text = Buffer.from(first.value!).toString();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += Buffer.from(chunk.value).toString();
    assert.equal(text.trim().split('\n').length, 10);
    assert.ok(Date.now() - firstAt >= 500, 'the first line arrived before the upstream finished');
  });

  it('passes a POST body through', async () => {
    agent();
    const res = await fetch(`${kas.k8sProxyUrl}api/v1/namespaces`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{"kind":"Namespace"}',
    });
    const echoed = (await res.json()) as { method: string; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.body, '{"kind":"Namespace"}');
  });

  it('serves an upgrade (a WebSocket, as kubectl exec uses) both ways', async () => {
    agent();
    const url = `${kas.k8sProxyUrl.replace(/^http/u, 'ws')}api/v1/namespaces/default/pods/web/exec`;
    const ws = new WebSocket(url, { headers: auth() });
    stops.push(() => ws.terminate());
    const messages: string[] = [];
    const got = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (messages.length >= count ? resolve() : undefined);
        ws.on('message', (data) => {
          messages.push(data.toString());
          check();
        });
        ws.once('error', reject);
        check();
      });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const hello = got(1);
    await hello;
    assert.equal(messages[0], 'hello gitlab:user:ada');
    const echoed = got(2);
    ws.send('ls -l');
    await echoed;
    assert.equal(messages[1], 'echo: ls -l');
    ws.close();
  });

  it('encodes durations of the config as google.protobuf.Duration', () => {
    const configuration = referenceAgentConfiguration(
      { remote_development: { enabled: true, dns_zone: 'ws.example.dev', partial_sync_interval: '1m30s' } },
      { agentId: 7, projectId: '12' },
    );
    const decoded = deserializeRefConfigurationResponse(serializeRefConfigurationResponse({ configuration, commit_id: 'abc' }));
    assert.deepEqual((decoded.configuration as { remote_development: unknown }).remote_development, {
      enabled: true,
      dns_zone: 'ws.example.dev',
      partial_sync_interval: { seconds: 90 },
    });
    assert.equal(decoded.configuration!.project_id, 12);
  });
});
