// CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom resources they serve.
// A stored CRD adds a row to the cluster's live resource table per served version, so
// discovery, routing, OpenAPI, watch and every verb serve its kind at once, as
// apiextensions-apiserver does; the CRD is marked Established; deleting it deletes its objects.
// Simple form: objects are stored under the storage version and served under every served
// version unchanged but for apiVersion (conversion strategy None); the openAPIV3Schema is not
// applied (no pruning, no defaults), additionalPrinterColumns are not printed.
import { ALL_VERBS, RESOURCES, resourceTypeOf, type ResourceDefinition } from './resources';
import type { StatusCause } from '../status';
import type { KubeObject, ObjectStore, ResourceType, WatchEvent } from '../types';

export const CRDS: ResourceType = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' };

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(obj) : [];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The table rows one CRD serves: one per served version. */
export function definitionsOf(crd: KubeObject): ResourceDefinition[] {
  const spec = obj(crd.spec);
  const names = obj(spec.names);
  const versions = list(spec.versions);
  const storageVersion = text(versions.find((v) => v.storage === true)?.name) || text(versions[0]?.name);
  const kind = text(names.kind);
  const categories = strings(names.categories);
  return versions
    .filter((v) => v.served !== false && text(v.name))
    .map((v): ResourceDefinition => ({
      group: text(spec.group),
      version: text(v.name),
      kind,
      plural: text(names.plural),
      singular: text(names.singular) || kind.toLowerCase(),
      shortNames: strings(names.shortNames),
      namespaced: spec.scope !== 'Cluster',
      verbs: ALL_VERBS,
      subresources: subresourcesOf(obj(v.subresources)),
      ...(categories.length > 0 ? { categories } : {}),
      storageVersion,
    }));
}

function subresourcesOf(subresources: Json): Record<string, string[]> {
  return subresources.status !== undefined ? { status: ['get', 'patch', 'update'] } : {};
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** apiextensions' validation of a CRD, in its field paths and words (422 Invalid causes). */
export function crdCauses(crd: KubeObject): StatusCause[] {
  const spec = obj(crd.spec);
  const names = obj(spec.names);
  const group = text(spec.group);
  const plural = text(names.plural);
  const causes: StatusCause[] = [];
  const required = (field: string) => causes.push({ reason: 'FieldValueRequired', message: 'Required value', field });
  const invalidValue = (field: string, value: unknown, why: string) =>
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}`, field });
  if (!group) required('spec.group');
  else if (!group.includes('.')) invalidValue('spec.group', group, 'should be a domain with at least one dot');
  if (!plural) required('spec.names.plural');
  else if (!DNS_LABEL.test(plural)) invalidValue('spec.names.plural', plural, 'a lowercase RFC 1123 label');
  if (!text(names.kind)) required('spec.names.kind');
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster')
    causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`,
      field: 'spec.scope',
    });
  if (group && plural && crd.metadata.name !== `${plural}.${group}`)
    invalidValue('metadata.name', crd.metadata.name, 'must be spec.names.plural+"."+spec.group');
  const versions = list(spec.versions);
  if (versions.length === 0) required('spec.versions');
  versions.forEach((v, i) => {
    if (!DNS_LABEL.test(text(v.name))) invalidValue(`spec.versions[${i}].name`, v.name, 'a DNS-1035 label');
  });
  if (versions.length > 0 && versions.filter((v) => v.storage === true).length !== 1)
    invalidValue('spec.versions', versions.length, 'must have exactly one version marked as storage version');
  return causes;
}

/** The cluster's live resource table: the built-in rows, then the rows of every stored CRD. */
export class CustomResourceTable {
  private byCrd = new Map<string, ResourceDefinition[]>();
  private current: readonly ResourceDefinition[] = RESOURCES;
  private unwatch: (() => void) | undefined;
  private readonly pending = new Set<NodeJS.Immediate>();

  constructor(private readonly store: ObjectStore) {}

  get definitions(): readonly ResourceDefinition[] {
    return this.current;
  }

  /** Replays the stored CRDs (a restored state) and follows every change, synchronously. */
  start(): void {
    this.unwatch ??= this.store.watch(CRDS, {}, (event) => this.onEvent(event));
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    for (const timer of this.pending) clearImmediate(timer);
    this.pending.clear();
  }

  private onEvent(event: WatchEvent): void {
    const name = event.object.metadata.name ?? '';
    const before = this.byCrd.get(name) ?? [];
    if (event.type === 'DELETED') this.byCrd.delete(name);
    else if (event.type === 'ADDED' || event.type === 'MODIFIED') this.byCrd.set(name, definitionsOf(event.object));
    else return;
    this.current = [...RESOURCES, ...[...this.byCrd.values()].flat()];
    if (event.type === 'DELETED') this.deleteObjectsOf(before);
    else if (!isEstablished(event.object)) this.later(() => this.establish(name));
  }

  /** Status is written outside the store's change notification, as a controller would. */
  private later(work: () => void): void {
    const timer = setImmediate(() => {
      this.pending.delete(timer);
      work();
    });
    this.pending.add(timer);
  }

  private establish(name: string): void {
    const crd = this.store.get(CRDS, undefined, name);
    if (!crd || isEstablished(crd)) return;
    const now = new Date().toISOString();
    const condition = (type: string, reason: string, message: string) => ({
      type,
      status: 'True',
      lastTransitionTime: now,
      reason,
      message,
    });
    const spec = obj(crd.spec);
    const storage = text(list(spec.versions).find((v) => v.storage === true)?.name);
    this.store.update(CRDS, {
      ...crd,
      status: {
        conditions: [
          condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
          condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
        ],
        acceptedNames: spec.names,
        storedVersions: storage ? [storage] : [],
      },
    });
  }

  /** A deleted CRD takes its objects with it (Kubernetes does so through a finalizer). */
  private deleteObjectsOf(definitions: ResourceDefinition[]): void {
    const definition = definitions[0];
    if (!definition) return;
    const type = resourceTypeOf(definition);
    for (const object of this.store.list(type).items) this.store.delete(type, object.metadata.namespace, object.metadata.name ?? '');
  }
}

function isEstablished(crd: KubeObject): boolean {
  return list(obj(crd.status).conditions).some((c) => c.type === 'Established' && c.status === 'True');
}
