// kas in-process against real git repositories: config delivery on the configuration stream,
// the REST API, the per-token rate limit, probes and metrics.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { startKas, type Kas } from '../../agent/kas/index';
import { watchAgentConfiguration, type ConfigurationWatch } from '../../agent/modules/agent_configuration/agentk';
import type { AgentConfig } from '../../agent/shared/agent_config';
import {
  GET_CONFIGURATION_PATH,
  deserializeConfigurationResponse,
  serializeConfigurationRequest,
} from '../../agent/modules/agent_configuration/rpc';
import { version as packageVersion } from '../../package.json';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from './helpers';

const USER_ACCESS = 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n';
const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';

interface Received {
  config: AgentConfig;
  commit: string;
  at: number;
}

/** Collects configs from the stream; waitFor resolves on the first one matching. */
class ConfigInbox {
  readonly received: Received[] = [];
  private waiters: Array<{ match: (r: Received) => boolean; resolve: (r: Received) => void }> = [];

  push = (config: AgentConfig, commit: string) => {
    const entry = { config, commit, at: Date.now() };
    this.received.push(entry);
    this.waiters = this.waiters.filter((w) => (w.match(entry) ? (w.resolve(entry), false) : true));
  };

  waitFor(match: (r: Received) => boolean, timeoutMs = 10_000): Promise<Received> {
    const found = this.received.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching config arrived')), timeoutMs);
      this.waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }
}

function getJson(url: string, token?: string): Promise<{ status: number; body: any; headers: Headers }> {
  return fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then(async (res) => ({
    status: res.status,
    body: await res.json(),
    headers: res.headers,
  }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('kas: configuration delivery, REST API and probes', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let repo: TestRepository;
  let kas: Kas | undefined;
  const watches: ConfigurationWatch[] = [];

  async function startWithAgent(listen: Record<string, unknown> = {}): Promise<{ kas: Kas; agentToken: string; userToken: string }> {
    repo.commit({ [CONFIG_PATH]: USER_ACCESS }, 'add agent dev');
    // A long poll period: a change must arrive through fs.watch on the ref files.
    kas = await startKas(
      testKasConfig(repo.dir, path.join(temp.dir, 'data'), { agent: { configuration: { poll_period: '60s' }, listen } }),
      testLogger(),
    );
    const agentToken = (await kas.registry.agentTokens.create('dev')).token;
    const userToken = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
    return { kas, agentToken, userToken };
  }

  function watch(kasInstance: Kas, token: string, inbox: ConfigInbox): ConfigurationWatch {
    const handle = watchAgentConfiguration({
      connection: { kasAddress: `grpc://${kasInstance.agentAddress}`, token },
      agentMeta: { podName: 'agentk-0', podNamespace: 'agents', version: 'test' },
      onConfig: inbox.push,
      logger: testLogger(),
    });
    watches.push(handle);
    return handle;
  }

  beforeEach(() => {
    temp = makeTempDir();
    repo = new TestRepository(temp.dir);
  });

  afterEach(async () => {
    for (const handle of watches.splice(0)) handle.stop();
    await kas?.stop();
    kas = undefined;
    temp.remove();
  });

  it('pushes the config at once and a new commit within about a second (fs.watch, 60 s poll)', async () => {
    const { kas, agentToken } = await startWithAgent();
    const inbox = new ConfigInbox();
    watch(kas, agentToken, inbox);
    const first = await inbox.waitFor(() => true);
    assert.deepEqual(first.config.user_access?.groups, [{ id: 'platform' }]);

    const committedAt = Date.now();
    const commit = repo.commit({ [CONFIG_PATH]: USER_ACCESS + '    - id: apps\n' }, 'authorize apps');
    const next = await inbox.waitFor((r) => r.commit === commit, 5000);
    const delayMs = next.at - committedAt;
    console.log(`      config commit reached the agent after ${delayMs} ms`);
    assert.deepEqual(next.config.user_access?.groups, [{ id: 'platform' }, { id: 'apps' }]);
  });

  it('refuses an invalid config with file and line, keeps the last good one, and reports it in the REST API', async () => {
    const { kas, agentToken, userToken } = await startWithAgent();
    const inbox = new ConfigInbox();
    watch(kas, agentToken, inbox);
    const good = await inbox.waitFor(() => true);
    repo.commit({ [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groupz: []\n' }, 'typo');
    await kas.registry.watcher.refresh();

    const { body } = await getJson(`${kas.apiUrl}api/v1/agents`, userToken);
    const dev = body.agents.find((a: { name: string }) => a.name === 'dev');
    assert.equal(dev.config.valid, false);
    assert.equal(dev.config.commit, good.commit, 'the commit in force is still the good one');
    assert.equal(dev.config.errors[0].file, CONFIG_PATH);
    assert.equal(dev.config.errors[0].line, 4);
    assert.match(dev.config.errors[0].message, /groupz/);
    assert.deepEqual(kas.registry.watcher.agentByName('dev')?.config, good.config);
    await sleep(300);
    assert.equal(inbox.received.length, 1, 'the invalid config was sent to the agent');
  });

  it('answers the REST API with agents and their connected agentk, and 401 without a valid token', async () => {
    const { kas, agentToken, userToken } = await startWithAgent();
    const inbox = new ConfigInbox();
    watch(kas, agentToken, inbox);
    await inbox.waitFor(() => true);

    assert.deepEqual((await getJson(`${kas.apiUrl}api/v1/version`, userToken)).body, { version: packageVersion });
    const { status, body } = await getJson(`${kas.apiUrl}api/v1/agents`, userToken);
    assert.equal(status, 200);
    const dev = body.agents[0];
    assert.equal(dev.name, 'dev');
    assert.equal(dev.configProject, 'team/agents');
    assert.equal(dev.config.valid, true);
    assert.match(dev.config.commit, /^[0-9a-f]{40}$/);
    assert.equal(dev.connections.length, 1);
    assert.equal(dev.connections[0].podName, 'agentk-0');
    assert.equal(dev.connections[0].podNamespace, 'agents');
    assert.ok(!Number.isNaN(Date.parse(dev.connections[0].connectedSince)));
    assert.deepEqual((await getJson(`${kas.apiUrl}api/v1/agents/${dev.id}`, `pat:${dev.id}:${userToken}`)).body, dev);
    assert.equal((await getJson(`${kas.apiUrl}api/v1/agents/999`, userToken)).status, 404);
    assert.equal((await getJson(`${kas.apiUrl}/api/v1/agents`, userToken)).status, 200, 'a doubled slash after the base URL is accepted');
    // One kas without Redis: the connected agents of its config project come from its own view, complete.
    const connected = await getJson(`${kas.apiUrl}api/v1/connected_agents?config_project=team/agents`, userToken);
    assert.deepEqual(connected.body, {
      configProject: 'team/agents',
      complete: true,
      agents: [{ id: dev.id, name: 'dev', configProject: 'team/agents', connections: dev.connections }],
    });
    assert.deepEqual(
      (await getJson(`${kas.apiUrl}api/v1/connected_agents`, userToken)).body.configProject,
      'team/agents',
      'defaults to this kas’s config project',
    );
    assert.deepEqual((await getJson(`${kas.apiUrl}api/v1/connected_agents?config_project=other/project`, userToken)).body.agents, []);

    const anonymous = await getJson(`${kas.apiUrl}api/v1/agents`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'unauthorized');
    assert.equal((await getJson(`${kas.apiUrl}api/v1/agents`, agentToken)).status, 401, 'an agent token is not a user token');
    assert.equal(
      (await getJson(`${kas.apiUrl}api/v1/agents`, `ci:${dev.id}:${userToken}`)).status,
      401,
      'a user token in a CI job credential is not a user credential',
    );
  });

  it('refuses an unknown agent token with UNAUTHENTICATED', async () => {
    const { kas } = await startWithAgent();
    const code = await openRawStream(kas.agentAddress, 'kat_unknown');
    assert.equal(code, grpc.status.UNAUTHENTICATED);
  });

  it('refuses the N+1st new connection of a token within a minute (limit 3)', async () => {
    const { kas, agentToken } = await startWithAgent({ connections_per_token_per_minute: 3 });
    const inboxes = [new ConfigInbox(), new ConfigInbox(), new ConfigInbox()];
    for (const inbox of inboxes) watch(kas, agentToken, inbox);
    await Promise.all(inboxes.map((inbox) => inbox.waitFor(() => true)));
    assert.equal(await openRawStream(kas.agentAddress, agentToken), grpc.status.RESOURCE_EXHAUSTED);
    const metrics = await (await fetch(`http://${kas.observabilityAddress}/metrics`)).text();
    assert.match(metrics, /kas_agent_connections_refused_total [1-9]/);
  });

  it('serves /liveness, /readiness and /metrics with the kas metrics', async () => {
    const { kas, agentToken } = await startWithAgent();
    const inbox = new ConfigInbox();
    watch(kas, agentToken, inbox);
    await inbox.waitFor(() => true);
    const base = `http://${kas.observabilityAddress}`;
    assert.equal((await fetch(`${base}/liveness`)).status, 200);
    assert.equal((await fetch(`${base}/readiness`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^kas_connected_agents [1-9]/m);
    assert.match(metrics, /^kas_config_deliveries_total [1-9]/m);
    assert.match(metrics, /kas_tunnels_idle/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  it('/readiness names each check; an unreadable config repository is reported without failing readiness', async () => {
    const { kas: started } = await startWithAgent();
    const readiness = async () => {
      const res = await fetch(`http://${started.observabilityAddress}/readiness`);
      return {
        status: res.status,
        body: (await res.json()) as { status: string; checks: Array<{ name: string; ok: boolean; required: boolean; reason: string }> },
      };
    };
    const before = await readiness();
    assert.equal(before.status, 200);
    assert.equal(before.body.status, 'ready');
    assert.deepEqual(
      before.body.checks.map((c) => [c.name, c.ok]),
      [
        ['kas', true],
        ['agent_listener', true],
        ['kubernetes_api_listener', true],
        ['api_listener', true],
        ['config_repository', true],
      ],
    );
    // The repository disappears: kas keeps the last good configs, so it stays ready but says why it is degraded.
    const moved = `${repo.dir}-moved`;
    renameSync(repo.dir, moved);
    try {
      await sleep(5_100); // the git check is cached for 5 s
      const after = await readiness();
      assert.equal(after.status, 200);
      const repository = after.body.checks.find((c) => c.name === 'config_repository')!;
      assert.equal(repository.ok, false);
      assert.equal(repository.required, false);
      assert.match(repository.reason, /cannot read .*last good configs stay in force/);
    } finally {
      renameSync(moved, repo.dir);
    }
  });

  it('turns not-ready first on stop and closes the listeners after listen_grace_period', async () => {
    const { kas: started } = await startWithAgent({ listen_grace_period: '1s' });
    const base = `http://${started.observabilityAddress}`;
    assert.equal((await fetch(`${base}/readiness`)).status, 200);
    const stopping = started.stop();
    kas = undefined;
    const draining = await fetch(`${base}/readiness`);
    assert.equal(draining.status, 503);
    assert.deepEqual(
      ((await draining.json()) as { checks: Array<{ name: string; ok: boolean }> }).checks.filter((c) => !c.ok).map((c) => c.name),
      ['kas'],
    );
    assert.equal((await fetch(`${base}/liveness`)).status, 200, 'still alive while draining');
    await stopping;
    await assert.rejects(fetch(`${base}/liveness`), 'the listener is closed after the grace period');
  });
});

/** Opens one GetConfiguration stream and resolves with the status it ends with (or OK once data arrives). */
function openRawStream(address: string, token: string): Promise<grpc.status> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const stream = client.makeServerStreamRequest(
    GET_CONFIGURATION_PATH,
    serializeConfigurationRequest,
    deserializeConfigurationResponse,
    {},
    metadata,
    {},
  );
  return new Promise<grpc.status>((resolve) => {
    stream.on('data', () => {
      stream.cancel();
      resolve(grpc.status.OK);
    });
    stream.on('error', (err: grpc.ServiceError) => resolve(err.code));
  }).finally(() => client.close());
}
