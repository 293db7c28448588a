// Our agentk speaking the reference's agent protocol (agentk --agent-protocol reference): a core
// subset of the tunnel suite on it (GET, POST, a streamed response, an upgrade, a cluster status),
// its configuration through the reference's GetConfiguration from a real kas (and the next one
// after a commit), and the command line's refusal of a combination the reference cannot run.
// The whole tunnel suite runs this way with AGENT_PROTOCOL=reference.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import WebSocket from 'ws';
import { runAgentk, type Agentk } from '../../../agent/agentk';
import { startKas as startFullKas, type Kas as FullKas } from '../../../agent/kas/index';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';
import {
  AGENT_TOKEN,
  quietLogger,
  request,
  startAgentk,
  startKas,
  useTunnelTransport,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  type Kas,
} from './harness';

describe('reference protocol: our agentk with --agent-protocol reference', function () {
  this.timeout(60_000);
  const fixture = useUpstreamFixture();
  useTunnelTransport('grpc');
  let kas: Kas;
  let agentk: Agentk;

  before(async () => {
    kas = await startKas();
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig, agentProtocol: 'reference' });
    await waitForIdleTunnels(kas.registry, 2);
  });

  after(async () => {
    await agentk?.stop();
    await kas?.stop();
  });

  it("registers its streams through the reference's Connect", () => {
    const replicas = kas.registry.connectedAgents().flatMap((agent) => agent.replicas);
    assert.equal(replicas.length, 1);
    assert.match(replicas[0]!.instanceId, /^reference-connection-\d+$/);
  });

  it('serves a GET with its query and a POST with its body', async () => {
    const get = await request(`${kas.proxyUrl}/api/v1/pods?labelSelector=app%3Dweb&limit=2`, { headers: userAuth() });
    assert.equal(get.status, 200, get.body);
    assert.equal(JSON.parse(get.body).url, '/api/v1/pods?labelSelector=app%3Dweb&limit=2');
    const post = await request(`${kas.proxyUrl}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { ...userAuth(), 'content-type': 'application/json' },
      body: '{"kind":"ConfigMap"}',
    });
    assert.equal(post.status, 200, post.body);
    assert.equal(JSON.parse(post.body).body, '{"kind":"ConfigMap"}');
  });

  it("passes the cluster's status and body through", async () => {
    const res = await request(`${kas.proxyUrl}/status/404`, { headers: userAuth() });
    assert.equal(res.status, 404);
    assert.match(res.body, /from the cluster/);
  });

  it('streams a response as the cluster writes it', async () => {
    const started = Date.now();
    const firstLine = await new Promise<number>((resolve, reject) => {
      fetch(`${kas.proxyUrl}/stream`, { headers: userAuth() }).then(async (res) => {
        const reader = res.body!.getReader();
        const first = await reader.read();
        const at = Date.now();
        assert.match(Buffer.from(first.value!).toString(), /^line 0/);
        while (!(await reader.read()).done);
        resolve(at - started);
      }, reject);
    });
    assert.ok(firstLine < 900, `the first line came after ${firstLine} ms, not as it was written`);
  });

  it('carries an upgrade (WebSocket) both ways', async () => {
    const ws = new WebSocket(`${kas.proxyUrl.replace(/^http/u, 'ws')}/api/v1/namespaces/default/pods/web/exec`, { headers: userAuth() });
    const messages: string[] = [];
    let arrived: () => void = () => undefined;
    ws.on('message', (data) => {
      messages.push(data.toString());
      arrived();
    });
    const received = (count: number) =>
      new Promise<void>((resolve, reject) => {
        arrived = () => (messages.length >= count ? resolve() : undefined);
        ws.once('error', reject);
        arrived();
      });
    await received(1);
    ws.send('uname -a');
    await received(2);
    assert.deepEqual(messages, ['hello agent', 'echo: uname -a']);
    ws.close();
  });
});

describe('reference protocol: our agentk gets its configuration through the reference GetConfiguration', function () {
  this.timeout(60_000);
  const fixture = useUpstreamFixture();
  const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';
  const CONFIG = 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\nobservability:\n  logging:\n    level: debug\n';

  it('receives the config, then the next commit, and shows as a connected replica with its pod name', async () => {
    const temp = makeTempDir();
    const kasStops: Array<() => Promise<void>> = [];
    try {
      const repo = new TestRepository(temp.dir);
      repo.commit({ [CONFIG_PATH]: CONFIG }, 'add agent dev');
      const kas: FullKas = await startFullKas(
        testKasConfig(repo.dir, path.join(temp.dir, 'data'), { agent: { configuration: { poll_period: '60s' } } }),
        testLogger(),
      );
      kasStops.push(() => kas.stop());
      const token = (await kas.registry.agentTokens.create('dev')).token;
      const configs: Array<{ level?: string; commit: string }> = [];
      const agent = await runAgentk({
        kasAddress: `grpc://${kas.agentAddress}`,
        token,
        kubeconfig: fixture.kubeconfig,
        observabilityAddress: null,
        podName: 'agentk-reference-0',
        podNamespace: 'agents',
        agentProtocol: 'reference',
        onConfig: (config, commit) => configs.push({ level: config.observability?.logging?.level, commit }),
        logger: quietLogger,
      });
      kasStops.unshift(() => agent.stop());
      const waitFor = async (match: (c: { level?: string; commit: string }) => boolean) => {
        const deadline = Date.now() + 10_000;
        while (!configs.some(match)) {
          if (Date.now() > deadline) throw new Error(`no matching config; got ${JSON.stringify(configs)}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      const first = kas.registry.watcher.agentByName('dev')!.commit!;
      await waitFor((c) => c.commit === first && c.level === 'debug');
      assert.equal(agent.currentConfig()?.config.user_access, undefined, 'user_access stays with kas');
      const next = repo.commit({ [CONFIG_PATH]: CONFIG.replace('debug', 'error') }, 'quieter');
      await waitFor((c) => c.commit === next && c.level === 'error');
      const agentId = kas.registry.watcher.agentByName('dev')!.id;
      assert.deepEqual(
        kas.registry.connections.connectionsOf(agentId).map((c) => c.podName),
        ['agentk-reference-0'],
      );
    } finally {
      for (const stop of kasStops) await stop();
      temp.remove();
    }
  });
});

describe('agentk --agent-protocol on the command line', function () {
  this.timeout(30_000);

  function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../../../agent/cmd/agentk.ts'), ...args], {
      env: { ...process.env, AGENTK_TOKEN: AGENT_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  }

  it('refuses an unknown protocol, and the reference protocol with transport v2', async () => {
    const unknown = await runCli(['--kas-address', 'grpc://127.0.0.1:1', '--agent-protocol', 'gitlab']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /--agent-protocol must be workbench or reference/);
    const v2 = await runCli(['--kas-address', 'grpc://127.0.0.1:1', '--agent-protocol', 'reference', '--tunnel-transport', 'v2']);
    assert.notEqual(v2.code, 0);
    assert.match(v2.stderr, /gRPC tunnel alone/);
  });
});
