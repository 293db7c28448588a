// The fault suite's token grep (suite.ts grepSecrets): it must report a token written to a log or
// to kas's data dir, and stay quiet on what kas really keeps (hashes).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserTokenStore } from '../../agent/modules/agent_registry/user_tokens';
import { grepSecrets, type Secret } from './suite';

describe('chaos: the token grep of logs and the data dir', () => {
  let dir: string;
  let logDir: string;
  let dataDir: string;
  let secrets: Secret[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'chaos-grep-'));
    logDir = path.join(dir, 'logs');
    dataDir = path.join(dir, 'data', 'kas');
    mkdirSync(logDir, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    // Real tokens from kas's own store: its file (hashes) is in the data dir the grep walks.
    const store = new UserTokenStore(dataDir);
    const user = await store.create({ kind: 'user', username: 'u', groups: [], projects: ['local/agents'] });
    const ci = await store.create({ kind: 'ci_job', project: 'local/agents' });
    secrets = [
      ['user token', user.token],
      ['CI job token', ci.token],
    ];
    writeFileSync(path.join(logDir, 'kas.log'), '{"level":"info","msg":"kas started"}\n');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds nothing in clean logs and in kas's hashed token store", () => {
    assert.deepEqual(grepSecrets(logDir, dataDir, secrets), []);
  });

  it('reports a CI job token written in a log line, naming the token and the file', () => {
    const ciToken = secrets[1]![1];
    const line = `{"level":"warn","msg":"proxy request refused","authorization":"Bearer ci:1:${ciToken}"}\n`;
    writeFileSync(path.join(logDir, 'kas.log'), `{"level":"info","msg":"kas started"}\n${line}`);
    assert.deepEqual(grepSecrets(logDir, dataDir, secrets), [`CI job token in ${path.join(logDir, 'kas.log')}`]);
  });

  it('reports a token in the clear in a nested file of the data dir; ignores files in the log dir that are not logs', () => {
    const userToken = secrets[0]![1];
    mkdirSync(path.join(dataDir, 'cache', 'tokens'), { recursive: true });
    writeFileSync(path.join(dataDir, 'cache', 'tokens', 'entry.json'), JSON.stringify({ token: userToken }));
    // A kubeconfig holds its user's token by design; only *.log files are logs.
    writeFileSync(path.join(logDir, 'kubeconfig-1'), `token: ${userToken}\n`);
    assert.deepEqual(grepSecrets(logDir, dataDir, secrets), [`user token in ${path.join(dataDir, 'cache', 'tokens', 'entry.json')}`]);
  });

  it('reports an empty secret instead of matching every file', () => {
    assert.deepEqual(grepSecrets(logDir, dataDir, [['agent token', '']]), ['agent token is empty: nothing to look for']);
  });
});
