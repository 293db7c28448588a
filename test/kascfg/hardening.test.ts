// kascfg keys of ours for the listeners and failed credentials (issue 13): their defaults, and
// values that would turn a protection off are refused.
import assert from 'node:assert/strict';
import { KasConfigError, parseKasConfig } from '../../agent/kascfg/kascfg';
import { DEFAULT_CONNECTION_GUARD } from '../../agent/internal/connection_guard';
import { DEFAULT_HTTP_TIMEOUTS } from '../../agent/internal/listen';
import { DEFAULT_AUTHENTICATION_FAILURES } from '../../agent/modules/agent_registry/auth_failures';

const MINIMAL = 'registry:\n  config_repository: /srv/agents.git\n  data_dir: /var/lib/kas\n';

function keysRefused(text: string): string[] {
  try {
    parseKasConfig(text, '/etc/kas/kascfg.yaml');
  } catch (err) {
    assert.ok(err instanceof KasConfigError);
    return err.issues.map((i) => i.keyPath);
  }
  return assert.fail('the configuration was accepted');
}

describe('kascfg: listener deadlines and failed-credential limits', () => {
  it('defaults match the built-in defaults of the listeners and the limiter', () => {
    const config = parseKasConfig(MINIMAL, '/etc/kas/kascfg.yaml');
    const listen = config.agent.listen;
    assert.deepEqual(
      {
        handshakeTimeoutMs: listen.handshakeTimeoutMs,
        authenticationTimeoutMs: listen.authenticationTimeoutMs,
        maxUnauthenticated: listen.maxUnauthenticatedConnections,
      },
      DEFAULT_CONNECTION_GUARD,
    );
    for (const timeouts of [
      config.agent.kubernetesApi.listen.timeouts,
      config.api.listen.timeouts,
      config.observability.listen.timeouts,
      config.privateApi.listen.timeouts,
    ]) {
      assert.deepEqual(timeouts, DEFAULT_HTTP_TIMEOUTS);
    }
    assert.deepEqual(config.kas.authenticationFailures, DEFAULT_AUTHENTICATION_FAILURES);
  });

  it('reads each key', () => {
    const config = parseKasConfig(
      MINIMAL +
        'agent:\n  listen:\n    handshake_timeout: 2s\n    authentication_timeout: 5s\n    max_unauthenticated_connections: 64\n' +
        '  kubernetes_api:\n    listen:\n      read_header_timeout: 3s\n      idle_timeout: 2m\n      max_pending_connections: 50\n' +
        'kas:\n  authentication_failures:\n    delay_after: 2\n    refuse_after: 4\n    window: 30s\n    max_delay: 500ms\n',
      '/etc/kas/kascfg.yaml',
    );
    assert.equal(config.agent.listen.handshakeTimeoutMs, 2000);
    assert.equal(config.agent.listen.authenticationTimeoutMs, 5000);
    assert.equal(config.agent.listen.maxUnauthenticatedConnections, 64);
    assert.deepEqual(config.agent.kubernetesApi.listen.timeouts, {
      readHeaderTimeoutMs: 3000,
      idleTimeoutMs: 120_000,
      maxPendingConnections: 50,
    });
    assert.deepEqual(config.kas.authenticationFailures, { delayAfter: 2, refuseAfter: 4, windowMs: 30_000, maxDelayMs: 500 });
  });

  it('refuses zero timeouts, a zero cap and refuse_after below delay_after', () => {
    const refused = keysRefused(
      MINIMAL +
        'agent:\n  listen:\n    handshake_timeout: "0"\n    max_unauthenticated_connections: 0\n' +
        'api:\n  listen:\n    read_header_timeout: "0"\n' +
        'kas:\n  authentication_failures:\n    delay_after: 5\n    refuse_after: 2\n',
    );
    assert.ok(refused.includes('agent.listen.max_unauthenticated_connections'), refused.join());
    for (const key of ['agent.listen.handshake_timeout', 'api.listen.read_header_timeout', 'kas.authentication_failures.refuse_after']) {
      assert.ok(refused.includes(key), `${key} not refused: ${refused.join()}`);
    }
  });
});
