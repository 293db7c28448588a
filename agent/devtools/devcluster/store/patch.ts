// The patch formats kubectl and client libraries send: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and strategic merge patch (lists of named things merged by a key).
import { badRequest, ApiError } from '../status';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const CONTENT_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

export function patchTypeOf(contentType: string | undefined): PatchType {
  const bare = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const type = CONTENT_TYPES[bare];
  if (!type) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${Object.keys(CONTENT_TYPES).slice(0, 4).join(', ')}`,
    );
  }
  return type;
}

/**
 * Merge keys for lists that strategic merge patch merges item by item, by the field's name.
 * Lists not named here (tolerations, args, command, ...) are replaced whole, as in Kubernetes.
 */
export const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  ownerReferences: 'uid',
  conditions: 'type',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
  secrets: 'name',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
};

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386: objects merge, null removes a key, anything else (lists too) replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  return mergePatch(target as Json | undefined, patch as Json);
}

function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// ---- strategic merge patch -------------------------------------------------------------

const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

/** Strategic merge patch: like a merge patch, but lists with a merge key merge item by item. */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  return strategicMerge(target as Json | undefined, patch as Json);
}

function strategicMerge(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  if (patch.$patch === 'replace') return withoutDirectives(patch);
  if (patch.$patch === 'delete') return null;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys' || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) result[field] = current.filter((item) => !value.includes(item));
      continue;
    }
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(key, result[key], value);
    else result[key] = strategicMerge(result[key], value);
  }
  return result;
}

function mergeList(field: string, current: Json | undefined, patch: Json[]): Json[] {
  const mergeKey = MERGE_KEYS[field];
  if (!mergeKey || !Array.isArray(current) || !patch.every(isObject)) return patch.map((item) => withoutDirectives(item));
  const replaceWhole = patch.some((item) => isObject(item) && item.$patch === 'replace');
  if (replaceWhole) return patch.filter((item) => !(isObject(item) && item.$patch === 'replace')).map((item) => withoutDirectives(item));
  const merged: Json[] = [...current];
  for (const item of patch as JsonObject[]) {
    const index = merged.findIndex((existing) => isObject(existing) && existing[mergeKey] === item[mergeKey]);
    if (item.$patch === 'delete') {
      if (index >= 0) merged.splice(index, 1);
    } else if (index >= 0) {
      merged[index] = strategicMerge(merged[index], item);
    } else {
      merged.push(withoutDirectives(item));
    }
  }
  return merged;
}

function withoutDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutDirectives);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith('$')) continue;
    out[key] = withoutDirectives(child);
  }
  return out;
}

// ---- JSON patch (RFC 6902) -------------------------------------------------------------

interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: Json;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(document: Json, tokens: string[], pointer: string): { parent: Json; last: string } {
  let current = document;
  for (const token of tokens.slice(0, -1)) {
    const next = Array.isArray(current) ? current[Number(token)] : isObject(current) ? current[token] : undefined;
    if (next === undefined) throw badRequest(`jsonpatch: path "${pointer}" does not exist`);
    current = next;
  }
  const last = tokens[tokens.length - 1];
  if (last === undefined) throw badRequest('jsonpatch: the document root cannot be changed');
  return { parent: current, last };
}

function getAt(document: Json, pointer: string): Json {
  let current = document;
  for (const token of parsePointer(pointer)) {
    const next = Array.isArray(current) ? current[Number(token)] : isObject(current) ? current[token] : undefined;
    if (next === undefined) throw badRequest(`jsonpatch: path "${pointer}" does not exist`);
    current = next;
  }
  return current;
}

function removeAt(document: Json, pointer: string): Json {
  const { parent, last } = resolveParent(document, parsePointer(pointer), pointer);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length) throw badRequest(`jsonpatch: index out of range in "${pointer}"`);
    return parent.splice(index, 1)[0]!;
  }
  if (!isObject(parent) || !(last in parent)) throw badRequest(`jsonpatch: path "${pointer}" does not exist`);
  const removed = parent[last]!;
  delete parent[last];
  return removed;
}

function addAt(document: Json, pointer: string, value: Json, replace: boolean): void {
  const { parent, last } = resolveParent(document, parsePointer(pointer), pointer);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw badRequest(`jsonpatch: index out of range in "${pointer}"`);
    parent.splice(index, replace ? 1 : 0, value);
    return;
  }
  if (!isObject(parent)) throw badRequest(`jsonpatch: path "${pointer}" does not exist`);
  if (replace && !(last in parent)) throw badRequest(`jsonpatch: path "${pointer}" does not exist`);
  parent[last] = value;
}

/** RFC 6902 on a copy of the target. */
export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('a JSON patch must be an array of operations');
  const document = structuredClone(target) as Json;
  for (const raw of operations as Json[]) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw badRequest('a JSON patch operation needs "op" and "path"');
    const operation = raw as unknown as JsonPatchOperation;
    applyOperation(document, operation);
  }
  return document;
}

function applyOperation(document: Json, operation: JsonPatchOperation): void {
  const { op, path } = operation;
  switch (op) {
    case 'add':
      return addAt(document, path, structuredClone(operation.value ?? null), false);
    case 'replace':
      return addAt(document, path, structuredClone(operation.value ?? null), true);
    case 'remove':
      removeAt(document, path);
      return;
    case 'move':
      return addAt(document, path, removeAt(document, operation.from ?? ''), false);
    case 'copy':
      return addAt(document, path, structuredClone(getAt(document, operation.from ?? '')), false);
    case 'test':
      if (JSON.stringify(getAt(document, path)) !== JSON.stringify(operation.value))
        throw new ApiError(422, 'Invalid', `jsonpatch: test failed at "${path}"`);
      return;
    default:
      throw badRequest(`jsonpatch: unknown operation "${String(op)}"`);
  }
}

/** Applies a patch of the given type to a current object (a copy is returned). */
export function applyPatch(type: PatchType, current: unknown, patch: unknown): unknown {
  const target = structuredClone(current);
  switch (type) {
    case 'merge':
      return applyMergePatch(target, patch);
    case 'json':
      return applyJsonPatch(target, patch);
    case 'strategic':
    case 'apply':
      return applyStrategicMergePatch(target, patch);
  }
}
