// The small rules of the tunnel, checked directly: reconnect backoff, kas addresses and access_as
// impersonation.
import { strict as assert } from 'node:assert';
import { Backoff, DEFAULT_BACKOFF } from '../../../agent/modules/reverse_tunnel/agent/backoff';
import { parseKasAddress, KasAddressError } from '../../../agent/modules/reverse_tunnel';
import { impersonationHeaders, ImpersonationError, parseAccessAs } from '../../../agent/modules/kubernetes_api/access_as';

describe('tunnel: rules', () => {
  it('backs off 1 s × 1.6 up to 20 s without jitter at the midpoint', () => {
    const backoff = new Backoff(
      DEFAULT_BACKOFF,
      () => 0.5,
      () => 0,
    );
    const delays = Array.from({ length: 9 }, () => backoff.nextDelayMs());
    assert.deepEqual(delays, [1000, 1600, 2560, 4096, 6554, 10486, 16777, 20000, 20000]);
  });

  it('keeps jitter within ±20%', () => {
    assert.equal(
      new Backoff(
        DEFAULT_BACKOFF,
        () => 0,
        () => 0,
      ).nextDelayMs(),
      800,
    );
    assert.equal(
      new Backoff(
        DEFAULT_BACKOFF,
        () => 0.999999,
        () => 0,
      ).nextDelayMs(),
      1200,
    );
  });

  it('starts over after 25 s of health, not before', () => {
    let now = 0;
    const backoff = new Backoff(
      DEFAULT_BACKOFF,
      () => 0.5,
      () => now,
    );
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.markHealthy();
    now += 24_000;
    assert.equal(backoff.nextDelayMs(), 2560, 'healthy for 24 s: keeps growing');
    backoff.markHealthy();
    now += 25_000;
    assert.equal(backoff.nextDelayMs(), 1000, 'healthy for 25 s: back to the start');
  });

  it('accepts grpc, grpcs, ws and wss kas addresses and explains the rest', () => {
    for (const address of ['grpc://kas:8150', 'grpcs://kas.example:443', 'ws://kas/agentk-ws', 'wss://kas.example/-/kubernetes-agent/']) {
      assert.doesNotThrow(() => parseKasAddress(address));
    }
    assert.throws(
      () => parseKasAddress('https://kas:8150'),
      (err: Error) => err instanceof KasAddressError && /use grpc:\/\/, grpcs:\/\/, ws:\/\/ or wss:\/\//.test(err.message),
    );
    assert.throws(() => parseKasAddress('grpc://kas'), /needs a port/);
    assert.throws(() => parseKasAddress('not a url'), /invalid kas address/);
  });

  it('turns access_as into Impersonate-* headers', () => {
    assert.equal(impersonationHeaders({ agent: {} }, undefined), undefined);
    assert.deepEqual(impersonationHeaders({ ci_job: {} }, { username: '1234', groups: ['gitlab:ci_job'] }), {
      'impersonate-user': ['gitlab:ci_job:1234'],
      'impersonate-group': ['gitlab:ci_job'],
    });
    assert.throws(() => impersonationHeaders({ user: {} }, undefined), ImpersonationError);
    assert.throws(() => parseAccessAs('{"agent":{},"user":{}}'), /exactly one of/);
    assert.deepEqual(parseAccessAs(''), { agent: {} });
  });
});
