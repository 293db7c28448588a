import assert from 'node:assert/strict';
import { formatNanos, PodLogStore } from '../../../agent/devtools/devcluster/kubelet/logs';
import type { LogLine } from '../../../agent/devtools/devcluster/types';

const query = { namespace: 'demo', pod: 'web', container: 'main' };

/** A log store on a clock the test moves by hand. */
function storeWithClock(options: { maxLinesPerAttempt?: number } = {}) {
  const clock = { nanos: 1_700_000_000_000_000_000n };
  const store = new PodLogStore({ ...options, nowNanos: () => clock.nanos });
  const advanceSeconds = (seconds: number) => {
    clock.nanos += BigInt(seconds) * 1_000_000_000n;
  };
  return { store, advanceSeconds };
}

function texts(lines: LogLine[] | undefined): string[] | undefined {
  return lines?.map((line) => line.text);
}

describe('devcluster/logs', () => {
  it('formats timestamps as RFC 3339 with nanoseconds', () => {
    assert.equal(formatNanos(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
  });

  it('splits written text into lines and keeps an unterminated piece until the rest arrives', () => {
    const { store } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    store.append('demo', 'web', 'main', 'one\ntw');
    assert.deepEqual(texts(store.read(query)), ['one']);
    store.append('demo', 'web', 'main', 'o\nthree');
    store.endAttempt('demo', 'web', 'main');
    assert.deepEqual(texts(store.read(query)), ['one', 'two', 'three']);
  });

  it('answers undefined for a container that never started, and keeps containers apart', () => {
    const { store } = storeWithClock();
    assert.equal(store.read(query), undefined);
    store.startAttempt('demo', 'web', 'sidecar');
    store.append('demo', 'web', 'sidecar', 'side\n');
    assert.equal(store.read(query), undefined);
    assert.deepEqual(texts(store.read({ ...query, container: 'sidecar' })), ['side']);
  });

  it('filters by tailLines and sinceSeconds', () => {
    const { store, advanceSeconds } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    store.append('demo', 'web', 'main', 'old 1\nold 2\n');
    advanceSeconds(60);
    store.append('demo', 'web', 'main', 'new 1\nnew 2\nnew 3\n');
    advanceSeconds(5);
    assert.deepEqual(texts(store.read({ ...query, tailLines: 2 })), ['new 2', 'new 3']);
    assert.deepEqual(texts(store.read({ ...query, tailLines: 0 })), []);
    assert.deepEqual(texts(store.read({ ...query, sinceSeconds: 10 })), ['new 1', 'new 2', 'new 3']);
    assert.deepEqual(texts(store.read({ ...query, sinceSeconds: 10, tailLines: 1 })), ['new 3']);
  });

  it('gives each line a distinct, increasing timestamp even when the clock stands still', () => {
    const { store } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    store.append('demo', 'web', 'main', 'a\nb\nc\n');
    const times = (store.read(query) ?? []).map((line) => line.time);
    assert.equal(new Set(times).size, 3);
    assert.deepEqual([...times].sort(), times);
  });

  it('keeps only the most recent lines of an attempt', () => {
    const { store } = storeWithClock({ maxLinesPerAttempt: 5 });
    store.startAttempt('demo', 'web', 'main');
    for (let i = 1; i <= 23; i++) store.append('demo', 'web', 'main', `line ${i}\n`);
    assert.deepEqual(texts(store.read(query)), ['line 19', 'line 20', 'line 21', 'line 22', 'line 23']);
  });

  it('reads the previous attempt after a restart, and nothing further back', () => {
    const { store } = storeWithClock();
    for (const run of ['first', 'second', 'third']) {
      store.startAttempt('demo', 'web', 'main');
      store.append('demo', 'web', 'main', `${run} run\n`);
      store.endAttempt('demo', 'web', 'main');
    }
    assert.deepEqual(texts(store.read(query)), ['third run']);
    assert.deepEqual(texts(store.read({ ...query, previous: true })), ['second run']);
  });

  it('follows new lines until the container ends, then calls onEnd once', () => {
    const { store } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    store.append('demo', 'web', 'main', 'before\n');
    const received: string[] = [];
    let ends = 0;
    store.follow(
      query,
      (line) => received.push(line.text),
      () => ends++,
    );
    store.append('demo', 'web', 'main', 'after 1\nafter 2\n');
    assert.deepEqual(received, ['after 1', 'after 2']);
    store.endAttempt('demo', 'web', 'main');
    store.endAttempt('demo', 'web', 'main');
    assert.equal(ends, 1);
    assert.equal(store.followerCount, 0);
  });

  it('removes a follower on unsubscribe', () => {
    const { store } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    const received: string[] = [];
    const unsubscribe = store.follow(
      query,
      (line) => received.push(line.text),
      () => assert.fail('unsubscribed followers are not ended'),
    );
    assert.equal(store.followerCount, 1);
    unsubscribe();
    assert.equal(store.followerCount, 0);
    store.append('demo', 'web', 'main', 'unseen\n');
    store.endAttempt('demo', 'web', 'main');
    assert.deepEqual(received, []);
  });

  it('ends a follow at once for a container that already stopped', async () => {
    const { store } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    store.endAttempt('demo', 'web', 'main');
    const ended = new Promise<void>((resolve) => store.follow(query, () => assert.fail('no lines expected'), resolve));
    await ended;
  });

  it("drops a deleted pod's logs and ends its followers", () => {
    const { store } = storeWithClock();
    store.startAttempt('demo', 'web', 'main');
    store.startAttempt('demo', 'web-2', 'main');
    store.append('demo', 'web', 'main', 'bye\n');
    let ended = false;
    store.follow(
      query,
      () => undefined,
      () => (ended = true),
    );
    store.deletePod('demo', 'web');
    assert.equal(ended, true);
    assert.equal(store.read(query), undefined);
    assert.deepEqual(store.read({ ...query, pod: 'web-2' }), [], 'a pod whose name starts the same is kept');
  });
});
