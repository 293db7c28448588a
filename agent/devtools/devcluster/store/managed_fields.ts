// Field ownership as server-side apply keeps it (metadata.managedFields, FieldsV1): which
// manager set which field, conflicts when an apply would change a field another manager owns,
// and fields an applier stops setting removed when nobody else owns them. Lists with a merge
// key (patch.ts MERGE_KEYS) are owned item by item (`k:{"name":"app"}`), other lists whole.
import { ApiError } from '../status';
import type { KubeObject } from '../types';
import { MERGE_KEYS } from './patch';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A field path: `f:<name>` per map key, `k:<json>` per keyed list item, `.` for the item itself. */
type FieldPath = string[];

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

/** Fields the server owns: never tracked (as in Kubernetes). */
const UNTRACKED_TOP = new Set(['apiVersion', 'kind', 'status']);
const UNTRACKED_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
]);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SEP = '\u0000';
const keyOf = (path: FieldPath) => path.join(SEP);
const pathOf = (key: string): FieldPath => key.split(SEP);

/** Every leaf field path an object sets. */
export function fieldSetOf(object: unknown): Set<string> {
  const out = new Set<string>();
  if (!isObject(object)) return out;
  for (const [key, value] of Object.entries(object)) {
    if (UNTRACKED_TOP.has(key)) continue;
    if (key === 'metadata' && isObject(value)) {
      for (const [metaKey, metaValue] of Object.entries(value)) {
        if (!UNTRACKED_METADATA.has(metaKey)) collect(metaValue, ['f:metadata', `f:${metaKey}`], metaKey, out);
      }
      continue;
    }
    collect(value, [`f:${key}`], key, out);
  }
  return out;
}

function itemKey(field: string, item: Json): string | undefined {
  const mergeKey = MERGE_KEYS[field];
  if (!mergeKey || !isObject(item) || item[mergeKey] === undefined) return undefined;
  return `k:${JSON.stringify({ [mergeKey]: item[mergeKey] })}`;
}

function collect(value: Json | undefined, path: FieldPath, field: string, out: Set<string>): void {
  if (value === undefined) return;
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) collect(child, [...path, `f:${key}`], key, out);
    return;
  }
  if (Array.isArray(value) && value.length > 0 && value.every((item) => itemKey(field, item) !== undefined)) {
    for (const item of value) {
      const itemPath = [...path, itemKey(field, item)!];
      out.add(keyOf([...itemPath, '.']));
      for (const [key, child] of Object.entries(item as JsonObject)) collect(child, [...itemPath, `f:${key}`], key, out);
    }
    return;
  }
  out.add(keyOf(path));
}

/** The value at a path; `.` answers the list item itself. undefined when absent. */
function valueAt(object: unknown, path: FieldPath): Json | undefined {
  let current = object as Json | undefined;
  for (const segment of path) {
    if (segment === '.') return current;
    if (segment.startsWith('f:')) {
      if (!isObject(current)) return undefined;
      current = current[segment.slice(2)];
    } else {
      const wanted = JSON.parse(segment.slice(2)) as JsonObject;
      if (!Array.isArray(current)) return undefined;
      current = current.find((item) => isObject(item) && Object.entries(wanted).every(([k, v]) => item[k] === v));
    }
    if (current === undefined) return undefined;
  }
  return current;
}

function removeAt(object: unknown, path: FieldPath): void {
  const last = path[path.length - 1];
  if (last === '.') {
    const listPath = path.slice(0, -2);
    const list = valueAt(object, listPath);
    const item = valueAt(object, path.slice(0, -1));
    if (Array.isArray(list) && item !== undefined) list.splice(list.indexOf(item), 1);
    return;
  }
  const parent = valueAt(object, path.slice(0, -1));
  if (isObject(parent) && last?.startsWith('f:')) delete parent[last.slice(2)];
}

function sameValue(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function toFieldsV1(set: Iterable<string>): JsonObject {
  const root: JsonObject = {};
  for (const key of [...set].sort()) {
    let node = root;
    for (const segment of pathOf(key)) {
      if (!isObject(node[segment])) node[segment] = {};
      node = node[segment] as JsonObject;
    }
  }
  return root;
}

export function fromFieldsV1(tree: unknown, prefix: FieldPath = [], out = new Set<string>()): Set<string> {
  if (!isObject(tree)) return out;
  const children = Object.entries(tree);
  if (children.length === 0 && prefix.length > 0) out.add(keyOf(prefix));
  for (const [segment, child] of children) fromFieldsV1(child, [...prefix, segment], out);
  return out;
}

/** `.spec.template.spec.containers[name="app"].image`, as the API server prints a field. */
export function fieldPathText(key: string): string {
  return pathOf(key)
    .filter((segment) => segment !== '.')
    .map((segment) => {
      if (segment.startsWith('f:')) return `.${segment.slice(2)}`;
      const wanted = JSON.parse(segment.slice(2)) as JsonObject;
      return `[${Object.entries(wanted)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    })
    .join('');
}

interface Owner {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  subresource?: string;
  fields: Set<string>;
}

function ownersOf(object: KubeObject | undefined): Owner[] {
  const entries = (object?.metadata as { managedFields?: unknown } | undefined)?.managedFields;
  if (!Array.isArray(entries)) return [];
  return entries.filter(isObject).map((entry) => ({
    manager: String(entry.manager ?? ''),
    operation: entry.operation === 'Apply' ? 'Apply' : 'Update',
    apiVersion: String(entry.apiVersion ?? ''),
    time: String(entry.time ?? ''),
    ...(typeof entry.subresource === 'string' ? { subresource: entry.subresource } : {}),
    fields: fromFieldsV1(entry.fieldsV1),
  }));
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Writes the owners back, each pruned to the fields the object still has; empty owners go. */
function writeOwners(object: KubeObject, owners: Owner[]): void {
  const entries: ManagedFieldsEntry[] = [];
  for (const owner of owners) {
    const present = [...owner.fields].filter((key) => valueAt(object, pathOf(key)) !== undefined);
    if (present.length === 0) continue;
    entries.push({
      manager: owner.manager,
      operation: owner.operation,
      apiVersion: owner.apiVersion,
      time: owner.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(present),
      ...(owner.subresource ? { subresource: owner.subresource } : {}),
    });
  }
  if (!isObject(object.metadata)) object.metadata = {};
  const metadata = object.metadata as { managedFields?: ManagedFieldsEntry[] };
  if (entries.length > 0) metadata.managedFields = entries;
  else delete metadata.managedFields;
}

function ownerFor(owners: Owner[], manager: string, operation: Owner['operation'], apiVersion: string, subresource?: string): Owner {
  let owner = owners.find((o) => o.manager === manager && o.operation === operation && o.subresource === subresource);
  if (!owner) {
    owner = { manager, operation, apiVersion, time: now(), ...(subresource ? { subresource } : {}), fields: new Set() };
    owners.push(owner);
  }
  owner.apiVersion = apiVersion;
  owner.time = now();
  return owner;
}

/**
 * A create, update or non-apply patch by `manager`: the fields whose value it changed become
 * its own (an Update entry, per subresource written) and no longer anybody else's. `after`
 * gets its managedFields.
 */
export function recordUpdate(before: KubeObject | undefined, after: KubeObject, manager: string, subresource?: string): void {
  const owners = ownersOf(before);
  const previous = before ? fieldSetOf(before) : new Set<string>();
  const changed = [...fieldSetOf(after)].filter(
    (key) => !previous.has(key) || !sameValue(valueAt(before, pathOf(key)), valueAt(after, pathOf(key))),
  );
  if (changed.length > 0) {
    for (const owner of owners) for (const key of changed) owner.fields.delete(key);
    const mine = ownerFor(owners, manager, 'Update', after.apiVersion ?? '', subresource);
    for (const key of changed) mine.fields.add(key);
  }
  writeOwners(after, owners);
}

interface Conflict {
  manager: string;
  apiVersion: string;
  field: string;
}

/**
 * Server-side apply: `merged` is the current object with the applied configuration merged in.
 * Fails with 409 Conflict (a cause per field) when the configuration changes a field another
 * manager owns, unless `force` takes the fields over. Fields this manager applied before and
 * no longer does are removed when no other manager owns them.
 */
export function recordApply(
  current: KubeObject | undefined,
  applied: KubeObject,
  merged: KubeObject,
  manager: string,
  force: boolean,
): void {
  if ((applied.metadata as { managedFields?: unknown } | undefined)?.managedFields !== undefined)
    throw new ApiError(400, 'BadRequest', 'metadata.managedFields must be nil');
  const owners = ownersOf(current);
  const appliedFields = fieldSetOf(applied);
  const conflicts: Conflict[] = [];
  for (const owner of owners) {
    // The same name updating (not applying) is another manager, as in Kubernetes.
    if (owner.manager === manager && owner.operation === 'Apply') continue;
    for (const key of appliedFields) {
      if (!owner.fields.has(key)) continue;
      // A list item's own entry (`.`) is about its presence; its fields are compared one by one.
      if (key.endsWith(`${SEP}.`) || sameValue(valueAt(applied, pathOf(key)), valueAt(current, pathOf(key)))) continue;
      if (force) owner.fields.delete(key);
      else conflicts.push({ manager: owner.manager, apiVersion: owner.apiVersion, field: fieldPathText(key) });
    }
  }
  if (conflicts.length > 0) throw conflictError(conflicts);
  const mine = ownerFor(owners, manager, 'Apply', applied.apiVersion ?? '');
  const ownedByOthers = new Set(owners.filter((o) => o !== mine).flatMap((o) => [...o.fields]));
  const dropped = [...mine.fields].filter((key) => !appliedFields.has(key) && !ownedByOthers.has(key));
  // Deepest first, so that removing a list item does not shift a path still to be removed.
  for (const key of dropped.sort((a, b) => pathOf(b).length - pathOf(a).length)) removeAt(merged, pathOf(key));
  mine.fields = appliedFields;
  writeOwners(merged, owners);
}

/** The Status the API server answers an apply conflict with, message and causes alike. */
function conflictError(conflicts: Conflict[]): ApiError {
  const byManager = new Map<string, Conflict[]>();
  for (const conflict of conflicts) {
    const key = `"${conflict.manager}" using ${conflict.apiVersion}`;
    byManager.set(key, [...(byManager.get(key) ?? []), conflict]);
  }
  const parts = [...byManager.entries()].map(([who, list]) =>
    list.length === 1 ? `conflict with ${who}: ${list[0]!.field}` : `conflicts with ${who}:\n${list.map((c) => `- ${c.field}`).join('\n')}`,
  );
  const count = conflicts.length;
  const message = `Apply failed with ${count} conflict${count === 1 ? '' : 's'}: ${parts.join('\n')}`;
  return new ApiError(409, 'Conflict', message, {
    causes: conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}" using ${c.apiVersion}`,
      field: c.field,
    })),
  });
}

/** The manager a request names, else the first word of its User-Agent, as the API server does. */
export function fieldManagerOf(query: URLSearchParams, userAgent: string | undefined): string {
  const named = query.get('fieldManager');
  if (named) return named;
  const agent = (userAgent ?? '').split('/')[0]?.trim();
  return agent || 'unknown';
}
