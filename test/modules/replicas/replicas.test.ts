// Several kas replicas sharing a real Redis: 3 replicas in-process, 2 agentk replicas of agent
// alpha (behind a TCP load balancer) and 1 of agent beta (straight to the third replica), the
// Kubernetes API stood in for by the tunnel tests' echo upstream.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { runAgentk, type Agentk } from '../../../agent/agentk/index';
import type { Kas } from '../../../agent/kas/index';
import { SharedConnectionRateLimiter } from '../../../agent/modules/replicas/tracker';
import { testLogger } from '../../kas/helpers';
import { startUpstream, writeKubeconfig, type Upstream } from '../reverse_tunnel/harness';
import { AGENT_CONFIG, RedisServer, TcpBalancer, get, prepareFleet, waitFor, type Fleet } from './harness';

interface Connection {
  podName: string;
  podNamespace: string;
  version: string;
  connectedSince: string;
}

interface ConnectedAgents {
  configProject: string;
  complete: boolean;
  agents: Array<{ id: number; name: string; configProject: string; connections: Connection[] }>;
}

interface ReadinessBody {
  status: string;
  checks: Array<{ name: string; ok: boolean; required: boolean; reason: string }>;
}

describe('kas replicas sharing Redis', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let fleet: Fleet;
  let upstream: Upstream;
  let balancer: TcpBalancer;
  const agentks: Agentk[] = [];
  let userToken: string;
  const ids: Record<'alpha' | 'beta' | 'gamma', number> = { alpha: 0, beta: 0, gamma: 0 };

  const proxyGet = (kas: Kas, agent: keyof typeof ids, path = 'api/v1/namespaces') =>
    get(`${kas.k8sProxyUrl}${path}`, `pat:${ids[agent]}:${userToken}`);
  const connectedPods = async (kas: Kas, agent: keyof typeof ids) => {
    const answer = await get(`${kas.apiUrl}api/v1/agents/${ids[agent]}`, userToken);
    return (JSON.parse(answer.body) as { connections: Array<{ podName: string }> }).connections.map((c) => c.podName).sort();
  };

  before(async () => {
    redis = await RedisServer.start();
    fleet = prepareFleet(redis, { waitTimeout: '3s' });
    fleet.repo.commit({ '.gitlab/agents/gamma/config.yaml': AGENT_CONFIG });
    for (let i = 0; i < 3; i++) await fleet.startReplica();
    const [first] = fleet.replicas;
    await waitFor('agent gamma in the registry', () => first!.registry.watcher.agentByName('gamma'));
    for (const name of ['alpha', 'beta', 'gamma'] as const) ids[name] = first!.registry.watcher.agentByName(name)!.id;
    userToken = (await first!.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
    upstream = await startUpstream();
    const kubeconfig = await writeKubeconfig(fleet.dir, upstream.url);
    // alpha's agentk replicas reach the first kas replica only, until the balancer learns the others.
    balancer = new TcpBalancer([first!.agentAddress]);
    await balancer.start();
    const alphaToken = (await first!.registry.agentTokens.create('alpha')).token;
    const betaToken = (await first!.registry.agentTokens.create('beta')).token;
    const start = (address: string, token: string, podName: string) =>
      runAgentk({
        kasAddress: `grpc://${address}`,
        token,
        kubeconfig,
        observabilityAddress: null,
        podName,
        podNamespace: 'agents',
        logger: testLogger(),
      });
    agentks.push(await start(balancer.address, alphaToken, 'alpha-1'), await start(balancer.address, alphaToken, 'alpha-2'));
    agentks.push(await start(fleet.replicas[2]!.agentAddress, betaToken, 'beta-1'));
  });

  after(async () => {
    for (const agentk of agentks) await agentk.stop();
    await balancer?.stop();
    for (const kas of fleet?.replicas ?? []) await kas.stop();
    await upstream?.stop();
    await redis?.kill();
    fleet?.remove();
  });

  it('the agents API gives the same complete answer on every replica', async () => {
    for (const kas of fleet.replicas) {
      await waitFor(
        `alpha's two replicas on ${kas.apiUrl}`,
        async () => (await connectedPods(kas, 'alpha')).join() === 'alpha-1,alpha-2' || undefined,
      );
      await waitFor(`beta's replica on ${kas.apiUrl}`, async () => (await connectedPods(kas, 'beta')).join() === 'beta-1' || undefined);
      assert.deepEqual(await connectedPods(kas, 'gamma'), []);
    }
  });

  it('lists an agent’s connected agentk replicas identically on every replica: pod, namespace, version, connected since', async () => {
    const fullConnections = async (kas: Kas, agent: keyof typeof ids) =>
      (JSON.parse((await get(`${kas.apiUrl}api/v1/agents/${ids[agent]}`, userToken)).body) as { connections: Connection[] }).connections;
    for (const agent of ['alpha', 'beta'] as const) {
      const answers = await Promise.all(fleet.replicas.map((kas) => fullConnections(kas, agent)));
      for (const answer of answers.slice(1)) assert.deepEqual(answer, answers[0], `${agent}: every replica gives the same list`);
      for (const c of answers[0]!) {
        assert.equal(c.podNamespace, 'agents');
        assert.ok(c.version, 'the agentk version is known');
        assert.ok(
          !Number.isNaN(Date.parse(c.connectedSince)) && Date.parse(c.connectedSince) <= Date.now(),
          `connectedSince ${c.connectedSince}`,
        );
      }
    }
  });

  it('lists a config project’s connected agents from the shared registry, the same on every replica', async () => {
    const byProject = async (kas: Kas, project: string) =>
      JSON.parse(
        (await get(`${kas.apiUrl}api/v1/connected_agents?config_project=${encodeURIComponent(project)}`, userToken)).body,
      ) as ConnectedAgents;
    const answers = await Promise.all(fleet.replicas.map((kas) => byProject(kas, 'team/agents')));
    for (const answer of answers.slice(1)) assert.deepEqual(answer, answers[0]);
    const [answer] = answers;
    assert.equal(answer!.complete, true);
    assert.deepEqual(
      answer!.agents.map((a) => [a.id, a.name, a.configProject, a.connections.map((c) => c.podName).join()]),
      [
        [ids.alpha, 'alpha', 'team/agents', 'alpha-1,alpha-2'],
        [ids.beta, 'beta', 'team/agents', 'beta-1'],
      ],
      'gamma has no agentk connected: not listed',
    );
    assert.deepEqual((await byProject(fleet.replicas[0]!, 'some/other-project')).agents, []);
    // The index behind it: one field per agent and replica in Redis.
    const client = new Redis({ port: redis.port, lazyConnect: true });
    await client.connect();
    try {
      const fields = Object.keys(await client.hgetall('kas-test:config_project_agents:team/agents')).map((f) => f.split(' ')[0]);
      assert.deepEqual([...new Set(fields)].sort(), [String(ids.alpha), String(ids.beta)].sort());
    } finally {
      client.disconnect();
    }
  });

  it('the project listing reads Redis and ignores expired entries (a crashed replica’s), removing them', async () => {
    const client = new Redis({ port: redis.port, lazyConnect: true });
    await client.connect();
    const projectKey = 'kas-test:config_project_agents:team/agents';
    const gammaKey = `kas-test:agent_replicas:${ids.gamma}`;
    const listedNames = async (kas: Kas) =>
      (
        JSON.parse((await get(`${kas.apiUrl}api/v1/connected_agents?config_project=team/agents`, userToken)).body) as ConnectedAgents
      ).agents.map((a) => a.name);
    const record = (pod: string, expiresAt: number) =>
      JSON.stringify({
        hasTunnels: false,
        hasIdleTunnel: false,
        connections: [{ podName: pod, podNamespace: 'agents', version: 'v0', connectedSince: new Date().toISOString() }],
        agentName: 'gamma',
        configProject: 'team/agents',
        expiresAt,
      });
    try {
      // Written straight into Redis, never published: only a replica reading Redis can know it.
      const live = Date.now() + 60_000;
      await client.hset(gammaKey, 'http://replica-elsewhere:8155', record('gamma-1', live));
      await client.hset(projectKey, `${ids.gamma} http://replica-elsewhere:8155`, String(live));
      for (const kas of fleet.replicas) assert.deepEqual(await listedNames(kas), ['alpha', 'beta', 'gamma']);
      const expired = Date.now() - 1_000;
      await client.hset(gammaKey, 'http://replica-elsewhere:8155', record('gamma-1', expired));
      await client.hset(projectKey, `${ids.gamma} http://replica-elsewhere:8155`, String(expired));
      for (const kas of fleet.replicas) assert.deepEqual(await listedNames(kas), ['alpha', 'beta']);
      await waitFor('the expired index entry removed', async () =>
        (await client.hexists(projectKey, `${ids.gamma} http://replica-elsewhere:8155`)) === 0 ? true : undefined,
      );
    } finally {
      await client.del(gammaKey);
      client.disconnect();
    }
  });

  it('filters the agents list by config project', async () => {
    const list = async (project: string) =>
      (
        JSON.parse(
          (await get(`${fleet.replicas[1]!.apiUrl}api/v1/agents?config_project=${encodeURIComponent(project)}`, userToken)).body,
        ) as { agents: Array<{ name: string }> }
      ).agents.map((a) => a.name);
    assert.deepEqual(await list('team/agents'), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await list('some/other-project'), []);
  });

  it('serves requests for both agents from every replica (its own tunnels or another replica’s)', async () => {
    for (const kas of fleet.replicas) {
      for (const agent of ['alpha', 'beta'] as const) {
        const answer = await proxyGet(kas, agent, 'api/v1/namespaces?replica=x');
        assert.equal(answer.status, 200, `${agent} via ${kas.k8sProxyUrl}: ${answer.body}`);
        assert.equal((JSON.parse(answer.body) as { url: string }).url, '/api/v1/namespaces?replica=x');
      }
    }
  });

  it('sequential cross-replica requests reuse the pooled private API connection', async () => {
    const [router, , holder] = fleet.replicas;
    assert.equal((await proxyGet(router!, 'beta')).status, 200); // a pooled connection exists from here on
    const acceptedBefore = holder!.privateApiConnectionsAccepted!();
    for (let i = 0; i < 20; i++) assert.equal((await proxyGet(router!, 'beta')).status, 200);
    assert.equal(holder!.privateApiConnectionsAccepted!() - acceptedBefore, 0, 'no new connection for 20 requests');
  });

  it('a streaming request abandoned by its client mid-way leaves the pooled connections usable', async () => {
    const [router, , holder] = fleet.replicas;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(
        `${router!.k8sProxyUrl}stream`,
        { headers: { authorization: `Bearer pat:${ids.beta}:${userToken}` }, agent: false },
        (res) => {
          res.once('data', () => {
            req.destroy(); // the user pressed Ctrl-C on kubectl logs -f
            resolve();
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    });
    const acceptedBefore = holder!.privateApiConnectionsAccepted!();
    const answers = await Promise.all(Array.from({ length: 3 }, () => proxyGet(router!, 'beta')));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    for (let i = 0; i < 5; i++) assert.equal((await proxyGet(router!, 'beta')).status, 200);
    assert.ok(holder!.privateApiConnectionsAccepted!() - acceptedBefore <= 3, 'at most one new connection per concurrent request');
  });

  it('streams a response through another replica as it is written', async () => {
    const answer = await proxyGet(fleet.replicas[1]!, 'beta', 'stream');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.trim().split('\n').length, 10);
  });

  it('a burst bigger than the agent’s idle tunnels, sent to a replica without them: every request is served', async () => {
    // beta's only agentk keeps 2 idle tunnels on the third replica; the rest of the burst waits
    // on the first replica until agentk opens more there, and must be woken by notification.
    const answers = await Promise.all(Array.from({ length: 12 }, () => proxyGet(fleet.replicas[0]!, 'beta', 'stream')));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(12).fill(200),
    );
  });

  it('passes a WebSocket upgrade through another replica, both ways', async () => {
    const kas = fleet.replicas[0]!;
    const url = `${kas.k8sProxyUrl.replace(/^http/, 'ws')}echo`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer pat:${ids.beta}:${userToken}` } });
    const messages: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        ws.on('message', (data) => {
          messages.push(String(data));
          if (messages.length === 1) ws.send('ping');
          if (messages.length === 2) resolve();
        });
        ws.on('error', reject);
      });
    } finally {
      ws.terminate();
    }
    assert.deepEqual(messages, ['hello agent', 'echo: ping']);
  });

  it('requests for an agent that is not connected cost Redis nothing while they wait, then get 504', async () => {
    // Background work may run meanwhile (rate limit flushes, other agents' records, a replica's
    // periodic resynchronisation): what must not happen is any command about gamma, e.g. polling
    // its tracker key while the requests wait.
    const recording = await redis.recordCommands();
    const answers = await Promise.all(Array.from({ length: 5 }, () => proxyGet(fleet.replicas[1]!, 'gamma')));
    const commands = await recording.stop();
    for (const answer of answers) {
      assert.equal(answer.status, 504, answer.body);
      assert.match(answer.body, /not connected/);
    }
    const aboutGamma = commands.filter((args) =>
      args.some((a) => a === `kas-test:agent_replicas:${ids.gamma}` || a.includes(`"agentId":"${ids.gamma}"`)),
    );
    assert.deepEqual(aboutGamma, [], 'Redis commands caused by the waiting requests');
  });

  it('a replica that crashed (its records still in Redis) does not stop routing to the others', async () => {
    const client = new Redis({ port: redis.port, lazyConnect: true });
    await client.connect();
    try {
      const record = JSON.stringify({ hasTunnels: true, hasIdleTunnel: true, connections: [], expiresAt: Date.now() + 60_000 });
      const deadUrl = 'http://127.0.0.1:1';
      await client.hset(`kas-test:agent_replicas:${ids.beta}`, deadUrl, record);
      await client.publish(
        'kas-test:agent_replicas',
        JSON.stringify({ agentId: String(ids.beta), url: deadUrl, record: JSON.parse(record) }),
      );
      for (let i = 0; i < 5; i++) assert.equal((await proxyGet(fleet.replicas[1]!, 'beta')).status, 200);
      await client.hdel(`kas-test:agent_replicas:${ids.beta}`, deadUrl);
      await client.publish('kas-test:agent_replicas', JSON.stringify({ agentId: String(ids.beta), url: deadUrl, record: null }));
    } finally {
      client.disconnect();
    }
  });

  it('the connection rate limit holds across replicas', async () => {
    const clients = [new Redis({ port: redis.port, lazyConnect: true }), new Redis({ port: redis.port, lazyConnect: true })];
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const [a, b] = clients.map((c) => new SharedConnectionRateLimiter(c, 'rate-test', 5, testLogger(), 60_000));
      const verdictsOnA: boolean[] = [];
      for (let i = 0; i < 4; i++) verdictsOnA.push(await a!.allow('token-1'));
      await a!.flush();
      assert.deepEqual(verdictsOnA, [true, true, true, true]);
      assert.equal(await b!.allow('token-1'), true, 'the fifth connection, on another replica');
      assert.equal(await a!.allow('token-1'), false, 'the sixth, back on the first replica');
      assert.equal(await b!.allow('token-1'), false);
      assert.equal(await b!.allow('token-2'), true, 'another token has its own budget');
      a!.stop();
      b!.stop();
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('stopping the replica holding alpha’s tunnels: agentk reconnects to another and requests resume', async () => {
    const [first, second, third] = fleet.replicas;
    balancer.backends = [first!.agentAddress, second!.agentAddress, third!.agentAddress];
    const stoppedAt = Date.now();
    await first!.stop();
    fleet.replicas.splice(0, 1);
    balancer.backends = [second!.agentAddress, third!.agentAddress];
    await waitFor(
      'alpha served again through the second replica',
      async () => ((await proxyGet(second!, 'alpha')).status === 200 ? true : undefined),
      30_000,
    );
    const gapMs = Date.now() - stoppedAt;
    console.log(`      alpha unavailable for ${gapMs} ms after its replica stopped`);
    assert.equal((await proxyGet(third!, 'alpha')).status, 200);
    await waitFor('alpha listed on both remaining replicas', async () => {
      const lists = await Promise.all([second!, third!].map((kas) => connectedPods(kas, 'alpha')));
      return lists.every((l) => l.join() === 'alpha-1,alpha-2') || undefined;
    });
  });

  it('Redis restarts: agents connected to a replica are still served, readiness says not ready, routing recovers', async () => {
    const [second, third] = fleet.replicas;
    const readiness = async (kas: Kas) => (await get(`http://${kas.observabilityAddress}/readiness`, '')).status;
    const failingChecks = async (kas: Kas) => {
      const body = JSON.parse((await get(`http://${kas.observabilityAddress}/readiness`, '')).body) as ReadinessBody;
      return body.checks.filter((c) => !c.ok);
    };
    const namesOfChecks = async (kas: Kas) =>
      (JSON.parse((await get(`http://${kas.observabilityAddress}/readiness`, '')).body) as ReadinessBody).checks.map((c) => c.name);
    assert.deepEqual(await failingChecks(third!), [], 'every check passes before the restart');
    assert.deepEqual(await namesOfChecks(third!), [
      'kas',
      'agent_listener',
      'kubernetes_api_listener',
      'api_listener',
      'private_api_listener',
      'redis',
      'config_repository',
    ]);
    await redis.kill();
    await waitFor('not ready without Redis', async () => ((await readiness(third!)) === 503 ? true : undefined));
    const failing = await failingChecks(third!);
    assert.deepEqual(
      failing.map((c) => c.name),
      ['redis'],
      'only Redis fails',
    );
    assert.match(failing[0]!.reason, /Redis is unreachable.*agents connected to this replica are still served/);
    assert.equal((await proxyGet(third!, 'beta')).status, 200, 'beta is connected to this replica');
    const partial = JSON.parse(
      (await get(`${third!.apiUrl}api/v1/connected_agents?config_project=team/agents`, userToken)).body,
    ) as ConnectedAgents;
    assert.equal(partial.complete, false, 'without Redis the project listing says it shows only this replica’s view');
    assert.ok(partial.agents.some((a) => a.name === 'beta'));
    await redis.launch();
    await waitFor(
      'ready again',
      async () => ((await readiness(third!)) === 200 && (await readiness(second!)) === 200 ? true : undefined),
      20_000,
    );
    assert.deepEqual(await failingChecks(third!), [], 'every check passes again');
    await waitFor(
      'beta routed through the second replica again',
      async () => ((await proxyGet(second!, 'beta')).status === 200 ? true : undefined),
      20_000,
    );
    await waitFor('the agents API complete again', async () => (await connectedPods(second!, 'beta')).join() === 'beta-1' || undefined);
    // The new Redis started empty: a replica started now knows beta only if the others wrote their records again.
    const late = await fleet.startReplica();
    await waitFor(
      'a replica started after the restart routes beta',
      async () => ((await proxyGet(late, 'beta')).status === 200 ? true : undefined),
      20_000,
    );
    assert.deepEqual(await connectedPods(late, 'alpha'), ['alpha-1', 'alpha-2']);
  });
});
