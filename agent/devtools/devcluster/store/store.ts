// The dev cluster's object store: every object in memory, one global resourceVersion counter,
// a bounded history of changes for watches that resume from a resourceVersion.
// Objects are copied on the way in and out, so callers can never mutate stored state.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './selectors';
import {
  StoreError,
  type KubeObject,
  type ListOptions,
  type ListResult,
  type ObjectStore,
  type ResourceType,
  type WatchEvent,
  type WatchEventType,
} from '../types';

/** How many changes are kept for watches that resume; older resourceVersions get 410 Expired. */
export const DEFAULT_HISTORY_LIMIT = 5000;

/** One change, as kept in the history and handed to watchers. */
interface Change {
  typeKey: string;
  resourceVersion: number;
  type: WatchEventType;
  object: KubeObject;
  /** The object before a MODIFIED change, so selector watches can see objects move in or out. */
  previous?: KubeObject;
}

interface Watcher {
  typeKey: string;
  matches: Matcher;
  listener: (event: WatchEvent) => void;
}

/** What persistence saves and restores. */
export interface StoreSnapshot {
  resourceVersion: number;
  objects: Array<{ type: ResourceType; object: KubeObject }>;
}

export interface MemoryObjectStoreOptions {
  historyLimit?: number;
}

const GENERATE_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function typeKeyOf(type: ResourceType): string {
  return `${type.group}/${type.version}/${type.resource}`;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += GENERATE_NAME_ALPHABET[Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)];
  return out;
}

function qualifiedName(type: ResourceType): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

/** metadata.generation counts changes of .spec, as kube-apiserver keeps it; clients cannot set it. */
function nextGeneration(existing: KubeObject, next: KubeObject): number | undefined {
  if (next.spec === undefined && existing.spec === undefined) return undefined;
  const current = typeof existing.metadata.generation === 'number' ? existing.metadata.generation : 1;
  return isDeepStrictEqual(existing.spec, next.spec) ? current : current + 1;
}

export class MemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly changeListeners = new Set<() => void>();
  private readonly historyLimit: number;
  private currentVersion = 0;
  /** Watches from a resourceVersion below this one missed changes that were dropped: 410. */
  private oldestResumableVersion = 0;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  }

  get resourceVersion(): string {
    return String(this.currentVersion);
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.bucket(type).get(objectKey(namespace, name));
    return found ? copy(found) : undefined;
  }

  list(type: ResourceType, options: ListOptions = {}): ListResult {
    const matches = this.matcher(options);
    const items: KubeObject[] = [];
    for (const object of this.bucket(type).values()) {
      if (matches(object)) items.push(copy(object));
    }
    items.sort(compareByNamespaceAndName);
    return { items, resourceVersion: this.resourceVersion };
  }

  create(type: ResourceType, input: KubeObject): KubeObject {
    const object = copy(input);
    const meta = object.metadata ?? (object.metadata = {});
    if (!meta.name) meta.name = this.generateName(type, meta.namespace, meta.generateName);
    const key = objectKey(meta.namespace, meta.name);
    if (this.bucket(type).has(key)) {
      throw new StoreError(409, 'AlreadyExists', `${qualifiedName(type)} "${meta.name}" already exists`);
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    delete meta.deletionTimestamp;
    if (object.spec !== undefined) meta.generation = 1;
    return this.commit(type, key, object, 'ADDED');
  }

  update(type: ResourceType, input: KubeObject): KubeObject {
    const object = copy(input);
    const meta = object.metadata ?? {};
    const name = meta.name ?? '';
    const key = objectKey(meta.namespace, name);
    const existing = this.bucket(type).get(key);
    if (!existing) throw new StoreError(404, 'NotFound', `${qualifiedName(type)} "${name}" not found`);
    if (meta.resourceVersion && meta.resourceVersion !== existing.metadata.resourceVersion) {
      throw new StoreError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedName(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    object.metadata = { ...meta, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp };
    const generation = nextGeneration(existing, object);
    if (generation !== undefined) object.metadata.generation = generation;
    return this.commit(type, key, object, 'MODIFIED', existing);
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(namespace, name);
    const bucket = this.bucket(type);
    const existing = bucket.get(key);
    if (!existing) throw new StoreError(404, 'NotFound', `${qualifiedName(type)} "${name}" not found`);
    bucket.delete(key);
    const deleted = copy(existing);
    deleted.metadata.resourceVersion = String(++this.currentVersion);
    this.record({ typeKey: typeKeyOf(type), resourceVersion: this.currentVersion, type: 'DELETED', object: deleted });
    return copy(deleted);
  }

  watch(type: ResourceType, options: ListOptions & { fromResourceVersion?: string }, listener: (event: WatchEvent) => void): () => void {
    const watcher: Watcher = { typeKey: typeKeyOf(type), matches: this.matcher(options), listener };
    const replay = this.replayFor(type, watcher, options.fromResourceVersion);
    this.watchers.add(watcher);
    for (const event of replay) listener(event);
    return () => {
      this.watchers.delete(watcher);
    };
  }

  /** How many watches are open; tests use it to check that a client leaving frees its watch. */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Called after every change (persistence saves on it). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  snapshot(): StoreSnapshot {
    const objects: StoreSnapshot['objects'] = [];
    for (const [typeKey, bucket] of this.objects) {
      const [group = '', version = '', resource = ''] = typeKey.split('/');
      for (const object of bucket.values()) objects.push({ type: { group, version, resource }, object: copy(object) });
    }
    return { resourceVersion: this.currentVersion, objects };
  }

  /** Replaces all state with a snapshot; history starts empty, so older watches get 410. */
  restore(snapshot: StoreSnapshot): void {
    this.objects.clear();
    this.history.length = 0;
    for (const { type, object } of snapshot.objects) {
      this.bucket(type).set(objectKey(object.metadata.namespace, object.metadata.name ?? ''), copy(object));
    }
    this.currentVersion = snapshot.resourceVersion;
    this.oldestResumableVersion = snapshot.resourceVersion;
  }

  private bucket(type: ResourceType): Map<string, KubeObject> {
    const key = typeKeyOf(type);
    let bucket = this.objects.get(key);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(key, bucket);
    }
    return bucket;
  }

  private matcher(options: ListOptions): Matcher {
    const labels = parseLabelSelector(options.labelSelector);
    const fields = parseFieldSelector(options.fieldSelector);
    const namespace = options.namespace;
    return (object) => (!namespace || object.metadata.namespace === namespace) && labels(object) && fields(object);
  }

  private generateName(type: ResourceType, namespace: string | undefined, prefix: string | undefined): string {
    if (!prefix) throw new StoreError(422, 'Invalid', `${qualifiedName(type)}: metadata.name or metadata.generateName is required`);
    for (let attempt = 0; attempt < 10; attempt++) {
      const name = prefix + randomSuffix();
      if (!this.bucket(type).has(objectKey(namespace, name))) return name;
    }
    throw new StoreError(409, 'AlreadyExists', `could not generate a unique name from "${prefix}"`);
  }

  private commit(type: ResourceType, key: string, object: KubeObject, eventType: WatchEventType, previous?: KubeObject): KubeObject {
    object.metadata.resourceVersion = String(++this.currentVersion);
    this.bucket(type).set(key, object);
    this.record({ typeKey: typeKeyOf(type), resourceVersion: this.currentVersion, type: eventType, object: copy(object), previous });
    return copy(object);
  }

  private record(change: Change): void {
    this.history.push(change);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift()!;
      this.oldestResumableVersion = dropped.resourceVersion;
    }
    for (const watcher of [...this.watchers]) {
      if (!this.watchers.has(watcher)) continue; // removed by an earlier listener in this loop
      const event = eventFor(watcher, change);
      if (event) watcher.listener(event);
    }
    for (const listener of this.changeListeners) listener();
  }

  /** The events a new watch starts with: current objects, or the history after a version. */
  private replayFor(type: ResourceType, watcher: Watcher, fromResourceVersion: string | undefined): WatchEvent[] {
    if (fromResourceVersion === undefined || fromResourceVersion === '' || fromResourceVersion === '0') {
      return this.list(type, {})
        .items.filter(watcher.matches)
        .map((object) => ({ type: 'ADDED', object }));
    }
    const from = Number(fromResourceVersion);
    if (!Number.isInteger(from) || from < 0) {
      throw new StoreError(400, 'BadRequest', `invalid resourceVersion "${fromResourceVersion}"`);
    }
    if (from < this.oldestResumableVersion) {
      throw new StoreError(410, 'Expired', `too old resource version: ${from} (${this.oldestResumableVersion})`);
    }
    const events: WatchEvent[] = [];
    for (const change of this.history) {
      if (change.resourceVersion <= from) continue;
      const event = eventFor(watcher, change);
      if (event) events.push(event);
    }
    return events;
  }
}

/** The event a watcher sees for a change, given its filters; undefined when it sees none. */
function eventFor(watcher: Watcher, change: Change): WatchEvent | undefined {
  if (change.typeKey !== watcher.typeKey) return undefined;
  const nowMatches = watcher.matches(change.object);
  if (change.type !== 'MODIFIED' || !change.previous) {
    return nowMatches ? { type: change.type, object: copy(change.object) } : undefined;
  }
  const matchedBefore = watcher.matches(change.previous);
  if (nowMatches && matchedBefore) return { type: 'MODIFIED', object: copy(change.object) };
  if (nowMatches) return { type: 'ADDED', object: copy(change.object) };
  if (matchedBefore) return { type: 'DELETED', object: copy(change.object) };
  return undefined;
}

/** Namespace, then name, by code units (not locale): list order is what continue tokens rely on. */
function compareByNamespaceAndName(a: KubeObject, b: KubeObject): number {
  const keyA = `${a.metadata.namespace ?? ''}\u0000${a.metadata.name ?? ''}`;
  const keyB = `${b.metadata.namespace ?? ''}\u0000${b.metadata.name ?? ''}`;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}
