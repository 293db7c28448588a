import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { realpath as realpathAsync } from 'node:fs/promises';
import path from 'node:path';
import { AgentIdStore } from '../../../agent/modules/agent_registry/agent_ids';
import { AgentTokenStore, TokenLimitError } from '../../../agent/modules/agent_registry/agent_tokens';
import { createAuthorizer } from '../../../agent/modules/agent_registry/authorize';
import { GitConfigRepository } from '../../../agent/modules/agent_registry/git_repository';
import { UserTokenStore } from '../../../agent/modules/agent_registry/user_tokens';
import type { AgentConfig } from '../../../agent/shared/agent_config';
import { AgentConfigWatcher } from '../../../agent/modules/agent_configuration/config_watcher';
import { TestRepository, git, makeTempDir, testLogger } from '../../kas/helpers';

function readAllFiles(dir: string): string {
  return readdirSync(dir)
    .map((name) => readFileSync(path.join(dir, name), 'utf8'))
    .join('\n');
}

describe('agent registry: the git config repository', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let repo: TestRepository;

  beforeEach(() => {
    temp = makeTempDir();
    repo = new TestRepository(temp.dir);
  });
  afterEach(() => temp.remove());

  it('lists agent folders on the default branch, with or without a config.yaml', async () => {
    repo.commit({
      '.gitlab/agents/alpha/config.yaml': 'user_access:\n  access_as:\n    agent: {}\n',
      '.gitlab/agents/beta/README.md': 'no config here',
      'README.md': 'not an agent',
    });
    const repository = new GitConfigRepository(repo.dir);
    const commit = await repository.defaultBranchCommit();
    assert.ok(commit);
    const folders = await repository.listAgentFolders(commit);
    assert.deepEqual(
      folders.map((f) => f.name),
      ['alpha', 'beta'],
    );
    assert.ok(folders[0]!.configBlob);
    assert.equal(folders[1]!.configBlob, undefined);
    assert.match(await repository.readBlob(folders[0]!.configBlob.id), /access_as/);
  });

  it('reads a bare repository and ignores branches other than the default one', async () => {
    repo.commit({ '.gitlab/agents/main-agent/config.yaml': '{}\n' });
    git(repo.dir, 'checkout', '-q', '-b', 'feature');
    repo.commit({ '.gitlab/agents/feature-agent/config.yaml': '{}\n' });
    git(repo.dir, 'checkout', '-q', 'main');
    const bare = path.join(temp.dir, 'bare.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.dir, bare]);
    const repository = new GitConfigRepository(bare);
    assert.equal(await repository.gitDirectory(), await realpathAsync(bare));
    const folders = await repository.listAgentFolders((await repository.defaultBranchCommit())!);
    assert.deepEqual(
      folders.map((f) => f.name),
      ['main-agent'],
    );
  });

  it('reports an empty repository as having no commit', async () => {
    assert.equal(await new GitConfigRepository(repo.dir).defaultBranchCommit(), undefined);
  });

  it('gives each agent a stable id that survives a restart and is never reused', async () => {
    const ids = new AgentIdStore(path.join(temp.dir, 'data'));
    const first = await ids.idsFor(['alpha', 'beta']);
    const again = await new AgentIdStore(path.join(temp.dir, 'data')).idsFor(['beta', 'gamma', 'alpha']);
    assert.equal(again.get('alpha'), first.get('alpha'));
    assert.equal(again.get('beta'), first.get('beta'));
    assert.ok(![first.get('alpha'), first.get('beta')].includes(again.get('gamma')));
    assert.equal(await ids.nameOf(again.get('gamma')!), 'gamma');
  });
});

describe('agent registry: agent tokens', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let tokens: AgentTokenStore;

  beforeEach(() => {
    temp = makeTempDir();
    tokens = new AgentTokenStore(temp.dir, new AgentIdStore(temp.dir));
  });
  afterEach(() => temp.remove());

  it('creates, lists and revokes tokens; a revoked token is refused at once', async () => {
    const { token, info } = await tokens.create('alpha', 'ci-rotation');
    const agent = await tokens.authenticate(token);
    assert.equal(agent?.agentName, 'alpha');
    assert.match(agent?.agentId ?? '', /^\d+$/);
    assert.deepEqual(
      (await tokens.list('alpha')).map((t) => t.name),
      ['ci-rotation'],
    );
    await tokens.revoke('alpha', info.id);
    assert.equal(await tokens.authenticate(token), undefined, 'revoked token still authenticates');
    assert.ok((await tokens.list('alpha'))[0]!.revokedAt);
  });

  it('allows at most two active tokens per agent', async () => {
    const first = await tokens.create('alpha');
    await tokens.create('alpha');
    await assert.rejects(tokens.create('alpha'), TokenLimitError);
    await tokens.create('beta');
    await tokens.revoke('alpha', first.info.name);
    await tokens.create('alpha');
  });

  it('keeps only hashes at rest: the token text is nowhere in the data dir', async () => {
    const { token } = await tokens.create('alpha');
    const onDisk = readAllFiles(temp.dir);
    assert.ok(onDisk.includes('sha256'), 'the token file exists');
    assert.ok(!onDisk.includes(token), 'the clear token is on disk');
    assert.ok(!onDisk.includes(token.slice(4, 24)), 'part of the token is on disk');
  });

  it('sees a revocation made by another process (another store on the same data dir) within a second', async () => {
    const { token, info } = await tokens.create('alpha');
    assert.ok(await tokens.authenticate(token), 'cached as valid');
    await new AgentTokenStore(temp.dir, new AgentIdStore(temp.dir)).revoke('alpha', info.id);
    // The other process's change is noticed within a second (the file is checked once a second).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await tokens.authenticate(token), undefined);
  });

  it('refuses unknown tokens', async () => {
    assert.equal(await tokens.authenticate('kat_not-a-real-token'), undefined);
  });
});

describe('agent registry: user access to the Kubernetes API proxy', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let userTokens: UserTokenStore;
  const configs = new Map<number, AgentConfig>([
    [1, { user_access: { access_as: { agent: {} }, groups: [{ id: 'platform' }], projects: [{ id: 'apps/shop' }] } }],
    [2, { ci_access: { projects: [{ id: 'apps/shop', access_as: { ci_job: {} } }] } }],
  ]);

  beforeEach(() => {
    temp = makeTempDir();
    userTokens = new UserTokenStore(temp.dir);
  });
  afterEach(() => temp.remove());

  const authorize = () => createAuthorizer({ userTokens, configOf: (id) => configs.get(id), configProjectId: 'team/agents' });

  it('allows members of an authorized group or project, including subgroups of a member group', async () => {
    const groupMember = await userTokens.create({ kind: 'user', username: 'ada', groups: ['platform/sre'], projects: [] });
    const parentMember = await userTokens.create({ kind: 'user', username: 'bob', groups: ['apps'], projects: [] });
    const subgroupOnly = await authorize()({ kind: 'pat', agentId: '1', token: groupMember.token });
    // Member of platform/sre is not a member of the parent group platform.
    assert.equal(subgroupOnly.allowed, false);
    const viaParent = await authorize()({ kind: 'pat', agentId: '1', token: parentMember.token });
    assert.deepEqual(viaParent, { allowed: true, accessAs: { agent: {} }, user: { username: 'bob', groups: ['apps'] } });
  });

  it('answers 401 for a bad token and 403 for an agent without user_access', async () => {
    const user = await userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] });
    const bad = await authorize()({ kind: 'pat', agentId: '1', token: 'kut_wrong' });
    assert.equal(bad.allowed === false && bad.status, 401);
    const noUserAccess = await authorize()({ kind: 'pat', agentId: '2', token: user.token });
    assert.ok(noUserAccess.allowed === false && noUserAccess.status === 403 && /user_access/.test(noUserAccess.message));
    await userTokens.revoke(user.info.id);
    const revoked = await authorize()({ kind: 'pat', agentId: '1', token: user.token });
    assert.equal(revoked.allowed === false && revoked.status, 401);
  });

  it('checks CI job tokens against ci_access and never accepts a user token as a job token', async () => {
    const job = await userTokens.create({ kind: 'ci_job', project: 'apps/shop' });
    const user = await userTokens.create({ kind: 'user', username: 'ada', groups: ['apps'], projects: [] });
    assert.deepEqual(await authorize()({ kind: 'ci', agentId: '2', token: job.token }), { allowed: true, accessAs: { ci_job: {} } });
    assert.equal((await authorize()({ kind: 'ci', agentId: '2', token: user.token })).allowed, false);
    assert.equal((await authorize()({ kind: 'pat', agentId: '1', token: job.token })).allowed, false);
  });
});

describe('agent configuration watcher', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let repo: TestRepository;
  let watcher: AgentConfigWatcher | undefined;

  beforeEach(() => {
    temp = makeTempDir();
    repo = new TestRepository(temp.dir);
  });
  afterEach(() => {
    watcher?.stop();
    watcher = undefined;
    temp.remove();
  });

  function startWatcher(options: { pollPeriodMs: number; watchRefFiles: boolean }): Promise<void> {
    watcher = new AgentConfigWatcher({
      repository: new GitConfigRepository(repo.dir),
      agentIds: new AgentIdStore(path.join(temp.dir, 'data')),
      logger: testLogger(),
      ...options,
    });
    return watcher.start();
  }

  it('notices a commit by the fallback poll alone when fs.watch is off', async () => {
    repo.commit({ '.gitlab/agents/dev/config.yaml': '{}\n' });
    await startWatcher({ pollPeriodMs: 100, watchRefFiles: false });
    const changed = new Promise<string | null>((resolve) => watcher!.subscribe('dev', (state) => resolve(state.commit)));
    const commit = repo.commit({ '.gitlab/agents/dev/config.yaml': 'observability:\n  logging:\n    level: debug\n' });
    assert.equal(await changed, commit);
  });

  it('ignores folders whose name is not a DNS label, and forgets removed agents', async () => {
    repo.commit({
      '.gitlab/agents/Bad_Name/config.yaml': '{}\n',
      '.gitlab/agents/good/config.yaml': '{}\n',
      '.gitlab/agents/gone/config.yaml': '{}\n',
    });
    await startWatcher({ pollPeriodMs: 60_000, watchRefFiles: false });
    assert.deepEqual(
      watcher!
        .agents()
        .map((a) => a.name)
        .sort(),
      ['gone', 'good'],
    );
    repo.commit({ '.gitlab/agents/gone/config.yaml': null });
    await watcher!.refresh();
    assert.deepEqual(
      watcher!.agents().map((a) => a.name),
      ['good'],
    );
  });

  it('refuses a config file above 128 KiB with file and line', async () => {
    repo.commit({ '.gitlab/agents/big/config.yaml': '# ' + 'x'.repeat(130 * 1024) + '\n' });
    await startWatcher({ pollPeriodMs: 60_000, watchRefFiles: false });
    const big = watcher!.agentByName('big')!;
    assert.equal(big.valid, false);
    assert.equal(big.commit, null);
    assert.equal(big.errors[0]!.file, '.gitlab/agents/big/config.yaml');
    assert.match(big.errors[0]!.message, /131\d+ bytes|at most/);
  });
});

describe('agent registry: repository path checks', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (temp = makeTempDir()));
  afterEach(() => temp.remove());

  it('refuses a folder inside another repository and a missing path, with a clear error', async () => {
    const repo = new TestRepository(temp.dir);
    repo.commit({ 'sub/file': 'x' });
    await assert.rejects(new GitConfigRepository(path.join(repo.dir, 'sub')).gitDirectory(), /is not a git repository \(it lies inside/);
    await assert.rejects(new GitConfigRepository(path.join(temp.dir, 'missing')).gitDirectory(), /is not a git repository/);
    assert.equal(await new GitConfigRepository(repo.dir).gitDirectory(), path.join(await realpathAsync(repo.dir), '.git'));
  });
});

describe('agent registry: several processes on one data dir', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (temp = makeTempDir()));
  afterEach(() => temp.remove());

  it('never loses an id or a token when stores write concurrently (file lock)', async () => {
    // Separate store objects share nothing in memory, like kas and the kas CLI.
    const names = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
    const assigned = await Promise.all(names.map((name) => new AgentIdStore(temp.dir).idFor(name)));
    assert.equal(new Set(assigned).size, names.length, 'two agents got the same id');
    const final = await new AgentIdStore(temp.dir).idsFor(names);
    assert.deepEqual(
      names.map((n) => final.get(n)),
      assigned,
      'an assignment was lost',
    );

    await Promise.all(names.map((name) => new AgentTokenStore(temp.dir, new AgentIdStore(temp.dir)).create(name)));
    assert.equal((await new AgentTokenStore(temp.dir, new AgentIdStore(temp.dir)).list()).length, names.length);
    assert.ok(!readdirSync(temp.dir).some((f) => f.endsWith('.lock')), 'a lock file was left behind');
  });
});
