// The per-agent tunnel figures behind GET /api/v1/agents/<id>/tunnel_figures, on a clock the
// test moves: one-minute buckets over 15 minutes, errors as 5xx or no answer, quantiles from
// the proxy histogram's buckets, open streams from the registry's counts, and agents kept apart.
import { strict as assert } from 'node:assert';
import { quantileMs, TunnelFigures, WINDOW_MINUTES } from '../../../agent/modules/kubernetes_api/server/tunnel_figures';
import { PROXY_DURATION_BUCKETS } from '../../../agent/modules/kubernetes_api/server/metrics';

describe('kas tunnel figures per agent', () => {
  const MINUTE = 60_000;
  let now = 1_000 * MINUTE + 5_000;
  let streams = [{ agentId: '7', idle: 3, busy: 1 }];
  const figures = () => new TunnelFigures({ streams: () => streams, now: () => now });

  beforeEach(() => {
    now = 1_000 * MINUTE + 5_000;
    streams = [{ agentId: '7', idle: 3, busy: 1 }];
  });

  it('counts requests and errors per minute and rolls old minutes out of the window', () => {
    const store = figures();
    for (let i = 0; i < 30; i++) store.record('7', 200, 0.004);
    store.record('7', 502, 0.2);
    store.record('7', 0, 1);
    store.record('7', 404, 0.004); // a refusal from the cluster is an answer, not a tunnel error
    now += MINUTE;
    store.record('7', 200, 0.004);
    let view = store.view(7);
    assert.equal(view.minutes.length, WINDOW_MINUTES);
    assert.deepEqual(
      view.minutes.slice(-2).map((m) => [m.requests, m.errors]),
      [
        [33, 2],
        [1, 0],
      ],
    );
    assert.equal(view.requestsPerMinute, 34 / 15);
    assert.equal(view.errorsPerMinute, 2 / 15);
    assert.deepEqual([view.openStreams, view.busyStreams], [4, 1]);
    now += WINDOW_MINUTES * MINUTE;
    view = store.view(7);
    assert.equal(
      view.minutes.reduce((sum, m) => sum + m.requests, 0),
      0,
      'everything older than 15 minutes is gone',
    );
    assert.equal(view.p50Ms, null);
  });

  it('estimates p50 and p99 inside the histogram buckets', () => {
    const store = figures();
    for (let i = 0; i < 98; i++) store.record('7', 200, 0.003); // bucket (1 ms, 5 ms]
    store.record('7', 200, 0.3); // (100 ms, 500 ms]
    store.record('7', 200, 0.3);
    const view = store.view(7);
    assert.ok(view.p50Ms! > 1 && view.p50Ms! <= 5, `p50 ${view.p50Ms}`);
    assert.ok(view.p99Ms! > 100 && view.p99Ms! <= 500, `p99 ${view.p99Ms}`);
    const inf = new Array<number>(PROXY_DURATION_BUCKETS.length + 1).fill(0);
    inf[inf.length - 1] = 1;
    assert.equal(quantileMs(inf, 0.5), 20_000, 'beyond the last bound: the highest finite bound');
  });

  it('keeps agents apart and shows streams carried over minutes without requests', () => {
    const store = figures();
    store.record('7', 200, 0.01);
    streams = [
      { agentId: '7', idle: 1, busy: 0 },
      { agentId: '8', idle: 2, busy: 0 },
    ];
    now += 3 * MINUTE;
    const seven = store.view(7);
    assert.equal(seven.minutes.at(-4)!.openStreams, 4, 'sampled at the request');
    assert.equal(seven.minutes.at(-2)!.openStreams, 4, 'carried over a quiet minute');
    assert.equal(seven.minutes.at(-1)!.openStreams, 1, 'the minute under way: now');
    const eight = store.view(8);
    assert.equal(
      eight.minutes.reduce((sum, m) => sum + m.requests, 0),
      0,
    );
    assert.equal(eight.openStreams, 2);
  });
});
