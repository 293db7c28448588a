// agentk's pool top-up rule (streamsToOpen), checked directly: the reference's numbers — at least
// 2 idle, 10 more at a time under load, at most 500 — and the deferral that lets a replacement
// stream share the answer's write.
import { strict as assert } from 'node:assert';
import { DEFAULT_POOL_SETTINGS, streamsToOpen, type PoolCounts } from '../../../agent/modules/reverse_tunnel/agent/pool';

const NONE: PoolCounts = { opening: 0, idle: 0, busy: 0, scheduled: 0, total: 0 };
const counts = (partial: Partial<PoolCounts>): PoolCounts => {
  const c = { ...NONE, ...partial };
  return { ...c, total: partial.total ?? c.opening + c.idle + c.busy };
};

describe('tunnel: pool top-up rule', () => {
  it('opens minIdle streams for a quiet pool and nothing while minIdle are idle, opening or scheduled', () => {
    assert.equal(streamsToOpen(NONE, DEFAULT_POOL_SETTINGS), 2);
    assert.equal(streamsToOpen(counts({ idle: 1 }), DEFAULT_POOL_SETTINGS), 1);
    assert.equal(streamsToOpen(counts({ idle: 2 }), DEFAULT_POOL_SETTINGS), 0);
    assert.equal(streamsToOpen(counts({ opening: 1, scheduled: 1 }), DEFAULT_POOL_SETTINGS), 0);
  });

  it('grows by scaleUpStep (10) under load when idle streams run low', () => {
    assert.equal(streamsToOpen(counts({ idle: 1, busy: 1 }), DEFAULT_POOL_SETTINGS), 10);
    assert.equal(streamsToOpen(counts({ busy: 60 }), DEFAULT_POOL_SETTINGS), 10);
    assert.equal(streamsToOpen(counts({ idle: 5, busy: 60 }), DEFAULT_POOL_SETTINGS), 0, 'enough spare streams');
  });

  it('never goes beyond maxStreams (500), scheduled opens included', () => {
    assert.equal(streamsToOpen(counts({ idle: 1, busy: 494 }), DEFAULT_POOL_SETTINGS), 5);
    assert.equal(
      streamsToOpen(counts({ busy: 498, scheduled: 1 }), DEFAULT_POOL_SETTINGS),
      1,
      'the scheduled stream counts as available, and towards the limit',
    );
    assert.equal(streamsToOpen(counts({ busy: 500 }), DEFAULT_POOL_SETTINGS), 0);
  });

  it('defers the top-up while a spare stream is left (the replacement then shares the answer’s write)', () => {
    assert.equal(streamsToOpen(counts({ idle: 1, busy: 1 }), DEFAULT_POOL_SETTINGS, true), 0);
    assert.equal(streamsToOpen(counts({ busy: 1 }), DEFAULT_POOL_SETTINGS, true), 10, 'no spare left: open now');
  });
});
