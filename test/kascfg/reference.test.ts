// kascfg in the reference's shape. REFERENCE_DEFAULTS is written from the facts of the
// reference's example kascfg (every key it sets, at its default value): the keys this kas has
// are honoured, the others refused, each naming its key.
import assert from 'node:assert/strict';
import path from 'node:path';
import { KasConfigError, parseKasConfig, type KasConfig } from '../../agent/kascfg/kascfg';
import { AgentConfigWatcher } from '../../agent/modules/agent_configuration/config_watcher';
import { AgentIdStore } from '../../agent/modules/agent_registry/agent_ids';
import { GitConfigRepository } from '../../agent/modules/agent_registry/git_repository';
import { TestRepository, makeTempDir, testLogger } from '../kas/helpers';

const REGISTRY = 'registry:\n  config_repository: /srv/agents.git\n  data_dir: /var/lib/kas\n';

/** The reference's defaults for the features this kas has, in the reference's forms ("7200s"). */
const REFERENCE_DEFAULTS_WE_HAVE = `agent:
  listen:
    network: tcp
    address: 127.0.0.1:8150
    websocket: false
    connections_per_token_per_minute: 40000
    max_connection_age: "7200s"
    listen_grace_period: "5s"
  configuration:
    poll_period: "300s"
    max_configuration_file_size: 131072
  kubernetes_api:
    listen:
      address: 0.0.0.0:8154
    url_path_prefix: /
  info_cache_ttl: "300s"
  info_cache_error_ttl: "60s"
  redis_conn_info_ttl: "300s"
  redis_conn_info_refresh: "240s"
observability:
  listen:
    address: 127.0.0.1:8151
  prometheus:
    url_path: /metrics
  sentry:
    dsn: ""
    environment: ""
  logging:
    level: info
    grpc_level: error
  google_profiler:
    enabled: false
  liveness_probe:
    url_path: /liveness
  readiness_probe:
    url_path: /readiness
private_api:
  listen:
    address: 127.0.0.1:8155
    authentication_secret_file: /some/file
redis:
  server:
    address: "localhost:6380"
  dial_timeout: "5s"
  write_timeout: "3s"
  key_prefix: gitlab-kas
  password_file: /some/file
  network: "tcp"
api:
  listen:
    address: 127.0.0.1:8153
`;

/** The reference's keys for features this kas does not have, each at the reference's default. */
const REFERENCE_KEYS_WE_LACK: Record<string, string> = {
  gitlab: 'gitlab:\n  address: http://localhost:8080\n',
  gitaly: 'gitaly:\n  global_api_rate_limit:\n    bucket_size: 70\n',
  'agent.gitops': 'agent:\n  gitops:\n    poll_period: "300s"\n',
  'agent.redis_conn_info_gc': 'agent:\n  redis_conn_info_gc: "600s"\n',
  'agent.kubernetes_api.allowed_agent_cache_ttl': 'agent:\n  kubernetes_api:\n    allowed_agent_cache_ttl: "60s"\n',
  'agent.kubernetes_api.listen.shutdown_grace_period': 'agent:\n  kubernetes_api:\n    listen:\n      shutdown_grace_period: "3600s"\n',
  'observability.usage_reporting_period': 'observability:\n  usage_reporting_period: "60s"\n',
  'observability.listen.network': 'observability:\n  listen:\n    network: tcp\n',
  'private_api.listen.max_connection_age': 'private_api:\n  listen:\n    max_connection_age: 7200s\n',
  'api.listen.authentication_secret_file': 'api:\n  listen:\n    authentication_secret_file: /some/file\n',
  'redis.username': 'redis:\n  server:\n    address: a:1\n  username: kas\n',
};

function issuesOf(text: string): KasConfigError['issues'] {
  try {
    parseKasConfig(text, '/etc/kas/kascfg.yaml');
  } catch (err) {
    assert.ok(err instanceof KasConfigError, String(err));
    return err.issues;
  }
  assert.fail('the configuration was accepted');
}

describe('kascfg: the reference shape', () => {
  it('has the reference defaults where this kas has the feature', () => {
    const config = parseKasConfig(REGISTRY, '/etc/kas/kascfg.yaml');
    assert.equal(config.observability.listen.address, '127.0.0.1:8151');
    assert.equal(config.privateApi.listen.address, '127.0.0.1:8155');
    assert.equal(config.agent.kubernetesApi.urlPathPrefix, '/');
    assert.equal(config.agent.listen.address, '127.0.0.1:8150');
    assert.equal(config.api.listen.address, '127.0.0.1:8153');
    assert.equal(config.agent.configuration.maxConfigurationFileSize, 131_072);
  });

  it('loads a file of the reference defaults and honours each value', () => {
    const config: KasConfig = parseKasConfig(REFERENCE_DEFAULTS_WE_HAVE + REGISTRY, '/etc/kas/kascfg.yaml');
    assert.equal(config.agent.listen.maxConnectionAgeMs, 7_200_000);
    assert.equal(config.agent.listen.listenGracePeriodMs, 5000);
    assert.equal(config.agent.configuration.pollPeriodMs, 300_000);
    assert.equal(config.agent.configuration.maxConfigurationFileSize, 131_072);
    assert.equal(config.agent.kubernetesApi.listen.address, '0.0.0.0:8154');
    assert.equal(config.privateApi.authenticationSecretFile, '/some/file');
    assert.equal(config.redis?.trackerTtlMs, 300_000);
    assert.equal(config.redis?.trackerRefreshMs, 240_000);
    assert.equal(config.redis?.serverAddress, 'localhost:6380');
    assert.equal(config.redis?.dialTimeoutMs, 5000);
  });

  it('refuses each reference key whose feature is missing, naming the key and why', () => {
    for (const [keyPath, text] of Object.entries(REFERENCE_KEYS_WE_LACK)) {
      const issues = issuesOf(REGISTRY + text);
      assert.deepEqual(
        issues.map((issue) => issue.keyPath),
        [keyPath],
        keyPath,
      );
      assert.match(issues[0]!.message, /^not supported here: \S/, keyPath);
      assert.ok(issues[0]!.line !== undefined, `${keyPath} has a line`);
    }
  });

  it('accepts a fixed behaviour only at its value', () => {
    const issues = issuesOf(REGISTRY + 'agent:\n  info_cache_ttl: 10m\nobservability:\n  prometheus:\n    url_path: /m\n');
    assert.deepEqual(
      issues.map((issue) => issue.keyPath),
      ['agent.info_cache_ttl', 'observability.prometheus.url_path'],
    );
    assert.match(issues[0]!.message, /"10m" is not supported here: agent token lookups are cached for 5m/);
    parseKasConfig(REGISTRY + 'agent:\n  info_cache_ttl: 5m\n  info_cache_error_ttl: 60s\n');
  });

  it('takes the reference names of settings that have our names too, but not both', () => {
    const redis = 'redis:\n  server:\n    address: a:1\n';
    const config = parseKasConfig(
      REGISTRY + redis + '  database_index: 3\nagent:\n  redis_conn_info_ttl: 600s\n  redis_conn_info_refresh: 120s\n',
    );
    assert.equal(config.redis?.database, 3);
    assert.equal(config.redis?.trackerTtlMs, 600_000);
    assert.equal(config.redis?.trackerRefreshMs, 120_000);
    const both = issuesOf(REGISTRY + redis + '  tracker_ttl: 5m\nagent:\n  redis_conn_info_ttl: 300s\n');
    assert.deepEqual(
      both.map((issue) => issue.keyPath),
      ['redis.tracker_ttl'],
    );
    assert.match(both[0]!.message, /only one of agent.redis_conn_info_ttl or redis.tracker_ttl/);
    const secret = parseKasConfig(REGISTRY + 'private_api:\n  authentication_secret_file: s\n', '/etc/kas/kascfg.yaml');
    assert.equal(secret.privateApi.authenticationSecretFile, path.resolve('/etc/kas', 's'));
  });

  it('reads kascfg as YAML 1.1 like the reference (yes/no are booleans)', () => {
    assert.equal(parseKasConfig(REGISTRY + 'agent:\n  listen:\n    websocket: yes\n').agent.listen.websocket, true);
  });
});

describe('kascfg: agent.configuration.max_configuration_file_size is honoured', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let watcher: AgentConfigWatcher | undefined;
  beforeEach(() => (temp = makeTempDir()));
  afterEach(() => {
    watcher?.stop();
    watcher = undefined;
    temp.remove();
  });

  async function agentWith(configText: string, maxConfigFileBytes: number) {
    const repo = new TestRepository(temp.dir);
    repo.commit({ '.gitlab/agents/a/config.yaml': configText });
    watcher = new AgentConfigWatcher({
      repository: new GitConfigRepository(repo.dir),
      agentIds: new AgentIdStore(path.join(temp.dir, 'data')),
      logger: testLogger(),
      pollPeriodMs: 60_000,
      watchRefFiles: false,
      maxConfigFileBytes,
    });
    await watcher.start();
    return watcher.agentByName('a')!;
  }

  it('refuses a config above a smaller limit', async () => {
    const agent = await agentWith('ci_access:\n  groups:\n    - id: ' + 'g'.repeat(200) + '\n', 100);
    assert.equal(agent.valid, false);
    assert.match(agent.errors[0]!.message, /at most 100/);
  });

  it('accepts a config above 128 KiB under a larger limit', async () => {
    const agent = await agentWith('# ' + 'x'.repeat(130 * 1024) + '\nci_access: {}\n', 256 * 1024);
    assert.equal(agent.valid, true, JSON.stringify(agent.errors));
  });
});
