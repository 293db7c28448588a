// The initial objects of a new dev cluster: the default namespaces, and on first start the
// objects of a --seed file (multi-document YAML of namespaces, pods, config maps, ...).
import { promises as fs } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ensureDefaultServiceAccount, withDefaults } from '../schema/defaults';
import { findByKind, resourceTypeOf, VIRTUAL_RESOURCES } from '../schema/resources';
import type { MemoryObjectStore } from './store';
import type { KubeObject } from '../types';
import { validateObject } from '../schema/validation';

export const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export class SeedFileError extends Error {
  override name = 'SeedFileError';
}

const NAMESPACES = { group: '', version: 'v1', resource: 'namespaces' };

export function ensureDefaultNamespaces(store: MemoryObjectStore): void {
  for (const name of DEFAULT_NAMESPACES) {
    if (!store.get(NAMESPACES, undefined, name))
      store.create(NAMESPACES, withDefaults({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    ensureDefaultServiceAccount(store, name);
  }
}

function parseSeed(text: string, file: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const [index, document] of parseAllDocuments(text).entries()) {
    if (document.errors.length > 0) throw new SeedFileError(`${file}: document ${index + 1}: ${document.errors[0]!.message}`);
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new SeedFileError(`${file}: document ${index + 1} is not an object`);
    const object = value as KubeObject;
    if (object.kind === 'List' && Array.isArray(object.items)) objects.push(...(object.items as KubeObject[]));
    else objects.push(object);
  }
  return objects;
}

/** Creates every object of a seed file, namespaces first; existing objects are left alone. */
export async function loadSeedFile(store: MemoryObjectStore, file: string): Promise<number> {
  const objects = parseSeed(await fs.readFile(file, 'utf8'), file);
  objects.sort((a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'));
  let created = 0;
  for (const object of objects) {
    const definition = findByKind(object.apiVersion, object.kind);
    if (!definition || VIRTUAL_RESOURCES.has(definition.plural))
      throw new SeedFileError(`${file}: unsupported kind ${object.apiVersion}/${object.kind}`);
    object.metadata = { ...(object.metadata ?? {}) };
    if (definition.namespaced) object.metadata.namespace ??= 'default';
    validateObject(definition, object);
    const namespace = object.metadata.namespace;
    if (namespace && !store.get(NAMESPACES, undefined, namespace)) {
      store.create(NAMESPACES, withDefaults({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }));
      ensureDefaultServiceAccount(store, namespace);
    }
    if (store.get(resourceTypeOf(definition), namespace, object.metadata.name ?? '')) continue;
    const stored = store.create(resourceTypeOf(definition), withDefaults(object));
    if (stored.kind === 'Namespace') ensureDefaultServiceAccount(store, stored.metadata.name ?? '');
    created++;
  }
  return created;
}
