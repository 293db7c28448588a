// The kas command line, run as a real process (through tsx, so no build is needed).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { TestRepository, makeTempDir } from './helpers';

const KAS_ENTRY = path.resolve(__dirname, '../../agent/cmd/kas.ts');

function runKas(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', KAS_ENTRY, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('kas command line', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let kascfg: string;
  let server: ChildProcess | undefined;

  beforeEach(() => {
    temp = makeTempDir();
    const repo = new TestRepository(temp.dir);
    repo.commit({ '.gitlab/agents/dev/config.yaml': 'user_access:\n  access_as:\n    agent: {}\n' });
    kascfg = path.join(temp.dir, 'kascfg.yaml');
    writeFileSync(
      kascfg,
      stringify({
        agent: { listen: { address: '127.0.0.1:0', listen_grace_period: '100ms' }, kubernetes_api: { listen: { address: '127.0.0.1:0' } } },
        observability: { listen: { address: '127.0.0.1:0' } },
        api: { listen: { address: '127.0.0.1:0' } },
        registry: { config_repository: 'config-repo', data_dir: 'data' },
      }),
    );
  });

  afterEach(() => {
    server?.kill('SIGKILL');
    server = undefined;
    temp.remove();
  });

  it('creates, lists and revokes agent tokens; prints the token once and stores only its hash', async () => {
    const created = await runKas(['token', 'create', '--config', kascfg, '--agent', 'dev', '--name', 'first']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim().split('\n').pop()!;
    assert.match(token, /^kat_[\w-]{43}$/);
    assert.match(created.stdout, /agent id \d+/);
    const dataFiles = readdirSync(path.join(temp.dir, 'data'))
      .map((f) => readFileSync(path.join(temp.dir, 'data', f), 'utf8'))
      .join('');
    assert.ok(!dataFiles.includes(token));

    assert.equal((await runKas(['token', 'create', '--config', kascfg, '--agent', 'dev'])).code, 0);
    const third = await runKas(['token', 'create', '--config', kascfg, '--agent', 'dev']);
    assert.equal(third.code, 1);
    assert.match(third.stderr, /at most 2/);

    const list = await runKas(['token', 'list', '--config', kascfg]);
    assert.equal(list.stdout.trim().split('\n').length, 2);
    assert.ok(!list.stdout.includes(token), 'list shows the token');
    const revoke = await runKas(['token', 'revoke', '--config', kascfg, '--agent', 'dev', '--name', 'first']);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match((await runKas(['token', 'list', '--config', kascfg, '--agent', 'dev'])).stdout, /first\t.*revoked/);
  });

  it('refuses a token for an agent that is not in the config repository, with a usage error', async () => {
    const result = await runKas(['token', 'create', '--config', kascfg, '--agent', 'ghost']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no agent "ghost"/);
  });

  it('creates user tokens with their groups', async () => {
    const result = await runKas([
      'user-token',
      'create',
      '--config',
      kascfg,
      '--user',
      'ada',
      '--group',
      'platform',
      '--group',
      'apps/team',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.trim().split('\n').pop()!, /^kut_/);
    assert.match((await runKas(['user-token', 'list', '--config', kascfg])).stdout, /user ada groups=\[platform,apps\/team\]/);
  });

  it('fails to start with a bad kascfg, naming file, line and key', async () => {
    writeFileSync(kascfg, readFileSync(kascfg, 'utf8') + 'kas:\n  agent_wait_timeout: soon\n');
    const result = await runKas(['--config', kascfg]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`${kascfg.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: kas.agent_wait_timeout`));
  });

  it('validates agent config files through validate-config', async () => {
    const bad = path.join(temp.dir, 'config.yaml');
    writeFileSync(bad, 'user_access:\n  acces_as:\n    agent: {}\n');
    const result = await runKas(['validate-config', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /config\.yaml:2/);
  });

  it('serves until SIGTERM, then stops cleanly with exit code 0', async () => {
    server = spawn(process.execPath, ['--import', 'tsx', KAS_ENTRY, '--config', kascfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    const started = await new Promise<{ observability: string }>((resolve, reject) => {
      let buffered = '';
      server!.stderr!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n').find((l) => l.includes('"kas started"'));
        if (line) resolve(JSON.parse(line) as { observability: string });
      });
      server!.once('exit', (code) => reject(new Error(`kas exited early (${code}): ${buffered}`)));
    });
    assert.equal((await fetch(`http://${started.observability}/readiness`)).status, 200);
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    assert.equal(await exited, 0);
    server = undefined;
  });
});
