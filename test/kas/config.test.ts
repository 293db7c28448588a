import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KasConfigError, loadKasConfig, parseDuration, parseKasConfig } from '../../agent/kascfg/kascfg';
import { makeTempDir } from './helpers';

const MINIMAL = 'registry:\n  config_repository: /srv/agents.git\n  data_dir: /var/lib/kas\n';

function issuesOf(text: string): KasConfigError['issues'] {
  try {
    parseKasConfig(text, '/etc/kas/kascfg.yaml');
  } catch (err) {
    assert.ok(err instanceof KasConfigError, `expected KasConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('the configuration was accepted');
}

describe('kas configuration (kascfg)', () => {
  it('applies the reference defaults to a minimal file', () => {
    const config = parseKasConfig(MINIMAL, '/etc/kas/kascfg.yaml');
    assert.equal(config.agent.listen.address, '127.0.0.1:8150');
    assert.equal(config.agent.listen.connectionsPerTokenPerMinute, 40_000);
    assert.equal(config.agent.listen.maxConnectionAgeMs, 2 * 3600_000);
    assert.equal(config.agent.kubernetesApi.listen.address, ':8154');
    assert.equal(config.agent.kubernetesApi.urlPathPrefix, '/');
    assert.equal(config.observability.listen.address, '127.0.0.1:8151');
    assert.equal(config.privateApi.listen.address, '127.0.0.1:8155');
    assert.equal(config.api.listen.address, '127.0.0.1:8153');
    assert.equal(config.kas.agentWaitTimeoutMs, 20_000);
    assert.equal(config.agent.configuration.pollPeriodMs, 1000);
    assert.equal(config.redis, undefined);
    assert.equal(config.registry.configRepository, '/srv/agents.git');
  });

  it('parses Go-style durations and rejects other spellings', () => {
    assert.equal(parseDuration('300ms'), 300);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('20'), undefined);
    assert.equal(parseDuration('20 s'), undefined);
    assert.equal(parseDuration('1d'), undefined);
  });

  it('reports a YAML syntax error with file and line', () => {
    const issues = issuesOf(MINIMAL + 'agent:\n  listen:\n    address: [unclosed\n');
    assert.equal(issues.length >= 1, true);
    assert.ok(issues[0]!.line !== undefined && issues[0]!.line >= 4, `line was ${issues[0]!.line}`);
    assert.match(new KasConfigError('/etc/kas/kascfg.yaml', issues).message, /\/etc\/kas\/kascfg\.yaml:\d+/);
  });

  it('rejects an unknown key with its path, line and a did-you-mean', () => {
    const issues = issuesOf(MINIMAL + 'agent:\n  listen:\n    adress: 127.0.0.1:1\n');
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.keyPath, 'agent.listen.adress');
    assert.equal(issues[0]!.line, 6);
    assert.match(issues[0]!.message, /did you mean "address"/);
  });

  it('rejects a bad duration, naming the key', () => {
    const issues = issuesOf(MINIMAL + 'agent:\n  listen:\n    max_connection_age: 2 hours\n');
    assert.deepEqual(
      issues.map((i) => i.keyPath),
      ['agent.listen.max_connection_age'],
    );
    assert.match(issues[0]!.message, /not a duration/);
  });

  it('reports every problem at once: bad address, bad type, missing registry keys', () => {
    const issues = issuesOf('agent:\n  listen:\n    address: nowhere\n    websocket: yes-please\n');
    const paths = issues.map((i) => i.keyPath).sort();
    assert.deepEqual(paths, ['agent.listen.address', 'agent.listen.websocket', 'registry.config_repository', 'registry.data_dir']);
  });

  it('validates redis: exactly one of server or sentinel', () => {
    const both = issuesOf(
      MINIMAL + 'redis:\n  server:\n    address: 127.0.0.1:6379\n  sentinel:\n    master_name: m\n    addresses: [a:1]\n',
    );
    assert.deepEqual(
      both.map((i) => i.keyPath),
      ['redis'],
    );
    const config = parseKasConfig(MINIMAL + 'redis:\n  server:\n    address: 127.0.0.1:6379\n  key_prefix: kas\n');
    assert.equal(config.redis?.serverAddress, '127.0.0.1:6379');
    assert.equal(config.redis?.keyPrefix, 'kas');
  });

  it('resolves relative paths against the file and reports unreadable files clearly', async () => {
    const temp = makeTempDir();
    try {
      const file = path.join(temp.dir, 'kascfg.yaml');
      writeFileSync(file, 'registry:\n  config_repository: repo\n  data_dir: data\n');
      const config = await loadKasConfig(file);
      assert.equal(config.registry.configRepository, path.join(temp.dir, 'repo'));
      await assert.rejects(
        loadKasConfig(path.join(temp.dir, 'missing.yaml')),
        (err: Error) => err instanceof KasConfigError && /cannot read/.test(err.message),
      );
    } finally {
      temp.remove();
    }
  });
});
