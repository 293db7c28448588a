// Connect a Cluster on kas's REST API, with a real kas and real git repositories: registering an
// agent is a real commit (by the calling user) that kas then serves on the configuration stream,
// in a non-bare repository (the local pair's kind, its work tree following) and through a
// mirror (deploy/kas's kind: the push goes to the origin); the install endpoint's token works
// for agentk and is stored only as a hash; bad names, duplicates, strangers and no auth are refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startKas, type Kas } from '../../../agent/kas/index';
import { watchAgentConfiguration, type ConfigurationWatch } from '../../../agent/modules/agent_configuration/agentk';
import { parseAgentConfig, type AgentConfig } from '../../../agent/shared/agent_config';
import type { CreateAgentInstallResponse, RegisterAgentResponse } from '../../../agent/shared/kas_api';
import { TestRepository, git, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';

const PROJECT = 'team/agents';

async function post(kas: Kas, urlPath: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(urlPath.replace(/^\//, ''), kas.apiUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

function firstConfig(kas: Kas, token: string, watches: ConfigurationWatch[]): Promise<{ config: AgentConfig; commit: string }> {
  return new Promise((resolve) => {
    watches.push(
      watchAgentConfiguration({
        connection: { kasAddress: `grpc://${kas.agentAddress}`, token },
        agentMeta: { podName: 'agentk-0', podNamespace: 'agents', version: 'test' },
        onConfig: (config, commit) => resolve({ config, commit }),
        logger: testLogger(),
      }),
    );
  });
}

describe('kas REST API: Connect a Cluster (register an agent, its token and install manifest)', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let kas: Kas | undefined;
  const watches: ConfigurationWatch[] = [];

  beforeEach(() => {
    temp = makeTempDir('kas-admin-');
  });

  afterEach(async () => {
    for (const w of watches.splice(0)) w.stop();
    await kas?.stop();
    kas = undefined;
    temp.remove();
  });

  async function start(repositoryDir: string): Promise<{ kas: Kas; member: string; stranger: string }> {
    kas = await startKas(
      testKasConfig(repositoryDir, path.join(temp.dir, 'data'), { agent: { configuration: { poll_period: '60s' } } }),
      testLogger(),
    );
    const member = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['team'], projects: [] })).token;
    const stranger = (await kas.registry.userTokens.create({ kind: 'user', username: 'eve', groups: ['other'], projects: [] })).token;
    return { kas, member, stranger };
  }

  it('registers an agent as a commit kas serves, and its install token connects as that agent', async () => {
    const repo = new TestRepository(temp.dir);
    repo.commit({ '.gitlab/agents/dev/config.yaml': 'observability:\n  logging:\n    level: info\n' }, 'agent dev');
    const { kas, member } = await start(repo.dir);

    const registered = await post(kas, '/api/v1/agents', { name: 'prod-eu' }, member);
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const reply = registered.body as RegisterAgentResponse;
    assert.equal(reply.agent.name, 'prod-eu');
    assert.equal(reply.configFile, '.gitlab/agents/prod-eu/config.yaml');
    assert.equal(reply.agent.config.commit, reply.commit, 'kas serves the new commit at once');
    // A real commit on main, by the user, and the non-bare repository's work tree follows it.
    assert.equal(git(repo.dir, 'rev-parse', 'main').trim(), reply.commit);
    assert.equal(git(repo.dir, 'log', '-1', '--format=%an').trim(), 'ada');
    assert.equal(git(repo.dir, 'status', '--porcelain').trim(), '');
    const written = readFileSync(path.join(repo.dir, reply.configFile), 'utf8');
    const parsed = parseAgentConfig(written);
    assert.deepEqual(
      parsed.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.deepEqual(parsed.config?.user_access?.projects, [{ id: PROJECT }]);

    const install = await post(kas, `/api/v1/agents/${reply.agent.id}/install`, { namespace: 'agents' }, member);
    assert.equal(install.status, 201, JSON.stringify(install.body));
    const made = install.body as CreateAgentInstallResponse;
    assert.match(made.token.value, /^kat_/);
    const docs = parseAllDocuments(made.manifest).map((d) => d.toJS() as { kind: string; data?: { token?: string }; spec?: any });
    const secret = docs.find((d) => d.kind === 'Secret')!;
    assert.equal(Buffer.from(secret.data!.token!, 'base64').toString(), made.token.value);
    const args: string[] = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].args;
    assert.ok(args.includes(`--kas-address=grpc://${kas.agentAddress}`), args.join(' '));
    // The one-line command really yields the manifest.
    const decoded = execFileSync('sh', ['-c', made.installCommand.replace('| kubectl apply -f -', '')], { encoding: 'utf8' });
    assert.equal(decoded, made.manifest);
    const tokenFile = readFileSync(path.join(temp.dir, 'data', 'agent-tokens.json'), 'utf8');
    assert.ok(!tokenFile.includes(made.token.value), 'only the hash is stored');

    const served = await firstConfig(kas, made.token.value, watches);
    assert.equal(served.commit, reply.commit);
    assert.deepEqual(served.config.user_access?.projects, [{ id: PROJECT }]);
  });

  it('refuses bad names, taken names, strangers and requests without a user token, with error codes', async () => {
    const repo = new TestRepository(temp.dir);
    repo.commit({ '.gitlab/agents/dev/config.yaml': '{}\n' }, 'agent dev');
    const { kas, member, stranger } = await start(repo.dir);
    const head = git(repo.dir, 'rev-parse', 'HEAD').trim();

    for (const name of ['Prod', 'a_b', '-x', '', 'x'.repeat(64), '../../etc']) {
      const res = await post(kas, '/api/v1/agents', { name }, member);
      assert.equal(res.status, 400, name);
      assert.equal(res.body.error.code, 'invalid_agent_name', name);
    }
    assert.equal((await post(kas, '/api/v1/agents', { name: 42 }, member)).body.error.code, 'invalid_agent_name');
    assert.equal((await post(kas, '/api/v1/agents', '{not json', member)).body.error.code, 'invalid_request');
    assert.equal((await post(kas, '/api/v1/agents', [1], member)).status, 400);
    const taken = await post(kas, '/api/v1/agents', { name: 'dev' }, member);
    assert.deepEqual([taken.status, taken.body.error.code], [409, 'agent_exists']);
    const foreign = await post(kas, '/api/v1/agents', { name: 'mine' }, stranger);
    assert.deepEqual([foreign.status, foreign.body.error.code], [403, 'forbidden']);
    const anonymous = await post(kas, '/api/v1/agents', { name: 'mine' });
    assert.deepEqual([anonymous.status, anonymous.body.error.code], [401, 'unauthorized']);
    assert.equal((await post(kas, '/api/v1/agents', { name: 'mine' }, 'kut_forged')).status, 401);
    assert.equal(git(repo.dir, 'rev-parse', 'HEAD').trim(), head, 'no refused request wrote anything');

    // The second registration of a name loses, and says so.
    const first = await post(kas, '/api/v1/agents', { name: 'twice' }, member);
    assert.equal(first.status, 201);
    const second = await post(kas, '/api/v1/agents', { name: 'twice' }, member);
    assert.deepEqual([second.status, second.body.error.code], [409, 'agent_exists']);

    const dev = kas.registry.watcher.agentByName('dev')!;
    assert.equal((await post(kas, '/api/v1/agents/999/install', {}, member)).status, 404);
    assert.equal((await post(kas, `/api/v1/agents/${dev.id}/install`, {}, stranger)).status, 403);
    assert.equal((await post(kas, `/api/v1/agents/${dev.id}/install`, {}, undefined)).status, 401);
    const badNs = await post(kas, `/api/v1/agents/${dev.id}/install`, { namespace: 'No!' }, member);
    assert.deepEqual([badNs.status, badNs.body.error.code], [400, 'invalid_request']);
    const badAddress = await post(kas, `/api/v1/agents/${dev.id}/install`, { kasAddress: 'http://kas' }, member);
    assert.equal(badAddress.body.error.code, 'invalid_request');
    assert.equal((await post(kas, `/api/v1/agents/${dev.id}/install`, {}, member)).status, 201);
    assert.equal((await post(kas, `/api/v1/agents/${dev.id}/install`, {}, member)).status, 201);
    const third = await post(kas, `/api/v1/agents/${dev.id}/install`, {}, member);
    assert.deepEqual([third.status, third.body.error.code], [409, 'token_limit']);
  });

  it('through a mirror (deploy/kas): pushes to the origin and fetches the mirror at once', async () => {
    const seed = new TestRepository(temp.dir);
    seed.commit({ '.gitlab/agents/dev/config.yaml': '{}\n' }, 'agent dev');
    const origin = path.join(temp.dir, 'origin.git');
    const mirror = path.join(temp.dir, 'mirror.git');
    execFileSync('git', ['clone', '-q', '--bare', seed.dir, origin]);
    execFileSync('git', ['clone', '-q', '--mirror', origin, mirror]);
    const { kas, member } = await start(mirror);

    const res = await post(kas, '/api/v1/agents', { name: 'edge' }, member);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const commit = (res.body as RegisterAgentResponse).commit;
    assert.equal(git(origin, 'rev-parse', 'main').trim(), commit, 'the repository of record has the commit');
    assert.equal(git(mirror, 'rev-parse', 'main').trim(), commit);
    assert.ok(kas.registry.watcher.agentByName('edge'));
  });

  it('says so when the origin refuses the push, without git text', async () => {
    const seed = new TestRepository(temp.dir);
    seed.commit({ '.gitlab/agents/dev/config.yaml': '{}\n' }, 'agent dev');
    const mirror = path.join(temp.dir, 'mirror.git');
    execFileSync('git', ['clone', '-q', '--mirror', seed.dir, mirror]);
    execFileSync('git', ['-C', mirror, 'remote', 'set-url', 'origin', path.join(temp.dir, 'gone.git')]);
    const { kas, member } = await start(mirror);
    const res = await post(kas, '/api/v1/agents', { name: 'edge' }, member);
    assert.deepEqual([res.status, res.body.error.code], [502, 'config_repository_push_failed']);
    assert.doesNotMatch(res.body.error.message, /gone\.git|fatal/);
  });
});
