// Edit and Apply without VS Code: YAML text (one or more documents) becomes a plan — each
// object's live state and its server-side dry-run result, as the two sides of a diff — and a
// plan is applied with server-side apply, forced only when the user chose to take fields over.
import { parseAllDocuments } from 'yaml';
import { KasClientError, UserFacingError } from '../kas_client/errors';
import { objectYaml } from './describe';
import type { KubeObject, ResourceApi } from './resource_api';

export interface PlannedObject {
  object: KubeObject;
  live?: KubeObject;
  dryRun: KubeObject;
  label: string;
  change: 'create' | 'change' | 'none';
}

export interface ApplyPlan {
  /** Planned to take over fields other managers own (the user chose Force). */
  force: boolean;
  items: PlannedObject[];
  /** The live objects, then what the server would make of the applied ones: the diff's sides. */
  liveText: string;
  dryRunText: string;
}

/** The objects of a YAML text; empty documents are skipped, a List's items taken one by one. */
export function parseObjects(text: string, defaultNamespace?: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      const line = document.errors[0]!.linePos?.[0]?.line;
      throw new UserFacingError('YAML_INVALID', `the YAML does not parse${line ? ` (line ${line})` : ''}`);
    }
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const items = isObject(value) && Array.isArray(value.items) && String(value.kind ?? '').endsWith('List') ? value.items : [value];
    for (const item of items) {
      if (!isObject(item) || typeof item.apiVersion !== 'string' || typeof item.kind !== 'string' || !isObject(item.metadata))
        throw new UserFacingError('YAML_INVALID', 'every document needs apiVersion, kind and metadata.name');
      const object = item as KubeObject;
      if (typeof object.metadata?.name !== 'string') throw new UserFacingError('YAML_INVALID', 'every document needs metadata.name');
      if (defaultNamespace && !object.metadata.namespace) object.metadata.namespace = defaultNamespace;
      objects.push(object);
    }
  }
  if (objects.length === 0) throw new UserFacingError('YAML_EMPTY', 'the file has no Kubernetes objects');
  return objects;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function objectLabel(object: KubeObject): string {
  const ns = object.metadata?.namespace;
  return `${object.kind ?? '?'} ${ns ? `${ns}/` : ''}${object.metadata?.name ?? '?'}`;
}

/** The diff's text of an object: what a user compares (no managedFields, no resourceVersion churn). */
function diffText(object: KubeObject | undefined): string {
  if (!object) return '';
  const { resourceVersion: _rv, generation: _generation, ...metadata } = object.metadata ?? {};
  return objectYaml({ ...object, metadata });
}

export async function planApply(api: ResourceApi, objects: KubeObject[], force = false): Promise<ApplyPlan> {
  const items: PlannedObject[] = [];
  for (const object of objects) {
    const ref = {
      apiVersion: object.apiVersion ?? '',
      kind: object.kind ?? '',
      namespace: object.metadata?.namespace,
      name: object.metadata?.name ?? '',
    };
    const live = await api.get(ref).catch((error: unknown) => {
      if (error instanceof KasClientError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    const dryRun = await api.apply(object, { dryRun: true, force });
    const change = !live ? 'create' : diffText(live) === diffText(dryRun) ? 'none' : 'change';
    items.push({ object, live, dryRun, label: objectLabel(object), change });
  }
  const join = (texts: string[]) => texts.map((t, i) => `# ${items[i]!.label}\n${t}`).join('---\n');
  return {
    force,
    items,
    liveText: join(items.map((i) => diffText(i.live))),
    dryRunText: join(items.map((i) => diffText(i.dryRun))),
  };
}

/** Applies what the plan would change; a conflict rejects with ApplyConflictError (nothing after it is applied). */
export async function applyPlan(api: ResourceApi, plan: ApplyPlan, force = plan.force): Promise<KubeObject[]> {
  const applied: KubeObject[] = [];
  for (const item of plan.items) {
    if (item.change === 'none') continue;
    applied.push(await api.apply(item.object, { force }));
  }
  return applied;
}
