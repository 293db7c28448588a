// kascfg for several replicas: the private API and tunnel tracker settings, and a clear error
// when a replica is told to use Redis without the shared secret.
import assert from 'node:assert/strict';
import path from 'node:path';
import { startKas } from '../../../agent/kas/index';
import { KasConfigError, parseKasConfig } from '../../../agent/kascfg/kascfg';
import { PrivateApiConfigError } from '../../../agent/modules/replicas';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';

const MINIMAL = 'registry:\n  config_repository: /srv/repo\n  data_dir: /srv/data\n';
const REDIS = 'redis:\n  server:\n    address: 127.0.0.1:6379\n';

describe('kascfg for several replicas', () => {
  it('reads the private API settings, resolving the secret file against the config file', () => {
    const config = parseKasConfig(
      MINIMAL +
        REDIS +
        'private_api:\n  listen:\n    address: 0.0.0.0:8155\n  advertise_url: http://10.0.0.1:8155\n  authentication_secret_file: secret\n',
      '/etc/kas/kascfg.yaml',
    );
    assert.equal(config.privateApi.advertiseUrl, 'http://10.0.0.1:8155');
    assert.equal(config.privateApi.authenticationSecretFile, path.resolve('/etc/kas', 'secret'));
    assert.equal(config.redis?.trackerRefreshMs, 4 * 60_000, 'refresh every 4 minutes by default');
    assert.equal(config.redis?.trackerTtlMs, 5 * 60_000, 'records live 5 minutes by default');
  });

  it('reads the private API TLS files (resolved against the config file); plain stays the default', () => {
    const config = parseKasConfig(
      MINIMAL +
        REDIS +
        'private_api:\n  listen:\n    address: 0.0.0.0:8155\n    certificate_file: tls/kas.crt\n    key_file: tls/kas.key\n    ca_certificate_file: tls/ca.crt\n  authentication_secret_file: secret\n',
      '/etc/kas/kascfg.yaml',
    );
    assert.deepEqual(config.privateApi.listen.tls, { certificateFile: '/etc/kas/tls/kas.crt', keyFile: '/etc/kas/tls/kas.key' });
    assert.equal(config.privateApi.listen.caCertificateFile, '/etc/kas/tls/ca.crt');
    const plain = parseKasConfig(MINIMAL + REDIS, '/etc/kas/kascfg.yaml');
    assert.equal(plain.privateApi.listen.tls, undefined);
    assert.equal(plain.privateApi.listen.caCertificateFile, undefined);
  });

  it('refuses a private API certificate without its key', () => {
    assert.throws(
      () => parseKasConfig(MINIMAL + REDIS + 'private_api:\n  listen:\n    certificate_file: kas.crt\n'),
      (err: unknown) =>
        err instanceof KasConfigError && err.issues.some((i) => i.keyPath === 'private_api.listen' && /together/.test(i.message)),
    );
  });

  it('refuses a tracker refresh period that is not shorter than the TTL', () => {
    assert.throws(
      () => parseKasConfig(MINIMAL + REDIS + '  tracker_refresh_period: 5m\n  tracker_ttl: 5m\n'),
      (err: unknown) => err instanceof KasConfigError && err.issues.some((i) => i.keyPath === 'redis.tracker_refresh_period'),
    );
  });

  it('startKas with redis but no private API secret fails with a clear error and leaves nothing running', async () => {
    const temp = makeTempDir('multi-kas-config-');
    try {
      const repo = new TestRepository(temp.dir);
      repo.commit({});
      const config = testKasConfig(repo.dir, path.join(temp.dir, 'data'), {
        redis: { server: { address: '127.0.0.1:1' } },
        private_api: { listen: { address: '127.0.0.1:0' } },
      });
      await assert.rejects(
        startKas(config, testLogger()),
        (err: unknown) => err instanceof PrivateApiConfigError && /authentication_secret_file/.test(err.message),
      );
    } finally {
      temp.remove();
    }
  });
});
