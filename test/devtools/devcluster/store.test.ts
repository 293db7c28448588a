import assert from 'node:assert/strict';
import { deleteExpiredEvents } from '../../../agent/devtools/devcluster/store/event_ttl';
import { MemoryObjectStore } from '../../../agent/devtools/devcluster/store/store';
import { StoreError, type KubeObject, type WatchEvent } from '../../../agent/devtools/devcluster/types';

const PODS = { group: '', version: 'v1', resource: 'pods' };
const NAMESPACES = { group: '', version: 'v1', resource: 'namespaces' };

function pod(name: string, labels: Record<string, string> = {}, namespace = 'default', phase = 'Pending'): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { nodeName: 'node-a' }, status: { phase } };
}

function storeErrorWith(code: number): (err: unknown) => boolean {
  return (err) => err instanceof StoreError && err.code === code;
}

describe('devcluster/store', () => {
  it('assigns uid, increasing resourceVersions and a creationTimestamp on create', () => {
    const store = new MemoryObjectStore();
    const a = store.create(PODS, pod('a'));
    const b = store.create(PODS, pod('b'));
    assert.match(a.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
    assert.match(a.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(store.get(PODS, 'default', 'a')?.metadata.uid, a.metadata.uid);
  });

  it('generates a name from generateName and rejects duplicates with 409 AlreadyExists', () => {
    const store = new MemoryObjectStore();
    const generated = store.create(PODS, { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', namespace: 'default' } });
    assert.match(generated.metadata.name ?? '', /^web-[a-z0-9]{5}$/);
    store.create(PODS, pod('dup'));
    assert.throws(
      () => store.create(PODS, pod('dup')),
      (err: unknown) => err instanceof StoreError && err.reason === 'AlreadyExists',
    );
  });

  it('keeps namespaced objects apart and cluster-scoped ones without a namespace', () => {
    const store = new MemoryObjectStore();
    store.create(PODS, pod('same', {}, 'one'));
    store.create(PODS, pod('same', {}, 'two'));
    store.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'one' } });
    assert.equal(store.list(PODS).items.length, 2);
    assert.equal(store.list(PODS, { namespace: 'two' }).items.length, 1);
    assert.ok(store.get(NAMESPACES, undefined, 'one'));
  });

  it('refuses an update with a stale resourceVersion (409 Conflict) and accepts a current one', () => {
    const store = new MemoryObjectStore();
    const created = store.create(PODS, pod('a'));
    const updated = store.update(PODS, { ...created, status: { phase: 'Running' } });
    assert.equal(updated.metadata.uid, created.metadata.uid);
    assert.throws(() => store.update(PODS, { ...created, status: { phase: 'Failed' } }), storeErrorWith(409));
    assert.throws(() => store.update(PODS, pod('missing')), storeErrorWith(404));
  });

  it('never lets callers mutate stored objects', () => {
    const store = new MemoryObjectStore();
    const created = store.create(PODS, pod('a', { app: 'x' }));
    created.metadata.labels!.app = 'changed';
    store.get(PODS, 'default', 'a')!.metadata.labels!.app = 'changed';
    assert.equal(store.get(PODS, 'default', 'a')?.metadata.labels?.app, 'x');
  });

  it('filters lists by label selectors: =, ==, !=, in, notin, exists, !key', () => {
    const store = new MemoryObjectStore();
    store.create(PODS, pod('a', { app: 'web', tier: 'front' }));
    store.create(PODS, pod('b', { app: 'db' }));
    store.create(PODS, pod('c', { app: 'cache', tier: 'back' }));
    const names = (labelSelector: string) => store.list(PODS, { labelSelector }).items.map((o) => o.metadata.name);
    assert.deepEqual(names('app=web'), ['a']);
    assert.deepEqual(names('app==db'), ['b']);
    assert.deepEqual(names('app!=web'), ['b', 'c']);
    assert.deepEqual(names('app in (web, cache)'), ['a', 'c']);
    assert.deepEqual(names('app notin (web,cache)'), ['b']);
    assert.deepEqual(names('tier'), ['a', 'c']);
    assert.deepEqual(names('!tier'), ['b']);
    assert.deepEqual(names('tier,app in (cache)'), ['c']);
    assert.throws(() => names('app=(bad'), storeErrorWith(400));
  });

  it('filters lists by field selectors on name, namespace, phase, nodeName and event fields', () => {
    const store = new MemoryObjectStore();
    store.create(PODS, pod('a', {}, 'default', 'Running'));
    store.create(PODS, pod('b', {}, 'other', 'Pending'));
    const names = (fieldSelector: string) => store.list(PODS, { fieldSelector }).items.map((o) => o.metadata.name);
    assert.deepEqual(names('metadata.name=a'), ['a']);
    assert.deepEqual(names('metadata.namespace!=default'), ['b']);
    assert.deepEqual(names('status.phase=Running,spec.nodeName=node-a'), ['a']);
    const EVENTS = { group: '', version: 'v1', resource: 'events' };
    store.create(EVENTS, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e1', namespace: 'default' },
      involvedObject: { kind: 'Pod', name: 'a' },
    });
    assert.equal(store.list(EVENTS, { fieldSelector: 'involvedObject.name=a,involvedObject.kind=Pod' }).items.length, 1);
    assert.equal(store.list(EVENTS, { fieldSelector: 'involvedObject.name=b' }).items.length, 0);
  });

  it('watches from a resourceVersion, replaying later changes then streaming live ones', () => {
    const store = new MemoryObjectStore();
    store.create(PODS, pod('before'));
    const from = store.resourceVersion;
    store.create(PODS, pod('after'));
    const seen: WatchEvent[] = [];
    const stop = store.watch(PODS, { fromResourceVersion: from }, (e) => seen.push(e));
    store.delete(PODS, 'default', 'after');
    stop();
    store.create(PODS, pod('unseen'));
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED after', 'DELETED after'],
    );
    assert.equal(store.watcherCount, 0);
  });

  it('starts a watch without a resourceVersion with every matching object as ADDED', () => {
    const store = new MemoryObjectStore();
    store.create(PODS, pod('a', { app: 'x' }));
    store.create(PODS, pod('b'));
    const seen: WatchEvent[] = [];
    const stop = store.watch(PODS, { labelSelector: 'app=x' }, (e) => seen.push(e));
    stop();
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED a'],
    );
  });

  it('tells a selector watch when an object moves out of or into its selection', () => {
    const store = new MemoryObjectStore();
    const created = store.create(PODS, pod('a', { app: 'x' }));
    const seen: string[] = [];
    const stop = store.watch(PODS, { labelSelector: 'app=x', fromResourceVersion: store.resourceVersion }, (e) => seen.push(e.type));
    const moved = store.update(PODS, { ...created, metadata: { ...created.metadata, labels: { app: 'y' } } });
    store.update(PODS, { ...moved, metadata: { ...moved.metadata, labels: { app: 'x' } } });
    stop();
    assert.deepEqual(seen, ['DELETED', 'ADDED']);
  });

  it('answers 410 Expired for a resourceVersion older than the history kept', () => {
    const store = new MemoryObjectStore({ historyLimit: 3 });
    store.create(PODS, pod('first'));
    const old = store.resourceVersion;
    for (let i = 0; i < 5; i++) store.create(PODS, pod(`p${i}`));
    assert.throws(() => store.watch(PODS, { fromResourceVersion: old }, () => undefined), storeErrorWith(410));
    const recent = String(Number(store.resourceVersion) - 1);
    const stop = store.watch(PODS, { fromResourceVersion: recent }, () => undefined);
    stop();
  });

  it('restores a snapshot with the same objects and resourceVersion counter', () => {
    const store = new MemoryObjectStore();
    store.create(PODS, pod('a'));
    const copy = new MemoryObjectStore();
    copy.restore(store.snapshot());
    assert.equal(copy.resourceVersion, store.resourceVersion);
    assert.equal(copy.get(PODS, 'default', 'a')?.metadata.uid, store.get(PODS, 'default', 'a')?.metadata.uid);
    const next = copy.create(PODS, pod('b'));
    assert.ok(Number(next.metadata.resourceVersion) > Number(store.resourceVersion));
  });
});

describe('devcluster/event-ttl', () => {
  it('deletes events last seen longer ago than the TTL and keeps recent ones', () => {
    const store = new MemoryObjectStore();
    const EVENTS = { group: '', version: 'v1', resource: 'events' };
    const now = Date.parse('2030-01-01T12:00:00Z');
    const event = (name: string, lastTimestamp: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: 'default' },
      lastTimestamp,
    });
    store.create(EVENTS, event('old', '2030-01-01T10:00:00Z'));
    store.create(EVENTS, event('recent', '2030-01-01T11:30:00Z'));
    assert.equal(deleteExpiredEvents(store, 60 * 60 * 1000, now), 1);
    assert.deepEqual(
      store.list(EVENTS).items.map((e) => e.metadata.name),
      ['recent'],
    );
  });
});
