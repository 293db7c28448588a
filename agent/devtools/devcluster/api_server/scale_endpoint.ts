// The scale subresource (<workload>/<name>/scale) as an autoscaling/v1 Scale: what
// `kubectl scale` reads and patches. Writing it changes the workload's spec.replicas.
import type { RequestContext } from './context';
import { decodeBody, readBody, sendJson } from './http';
import { applyPatch, patchTypeOf } from '../store/patch';
import { fieldManagerOf, recordUpdate } from '../store/managed_fields';
import { resourceTypeOf } from '../schema/resources';
import { badRequest, notFound } from '../status';
import type { KubeObject } from '../types';

interface ScaleView {
  spec?: { replicas?: unknown };
  metadata?: { resourceVersion?: string };
}

function selectorText(workload: KubeObject): string {
  const selector = (workload.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector;
  return Object.entries(selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function scaleOf(workload: KubeObject): KubeObject {
  const replicas = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const status = (workload.status ?? {}) as { replicas?: number };
  const { name, namespace, uid, resourceVersion, creationTimestamp } = workload.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas },
    status: { replicas: status.replicas ?? 0, selector: selectorText(workload) },
  };
}

export async function handleScale(ctx: RequestContext): Promise<void> {
  const { definition, namespace, name } = ctx.route;
  const type = resourceTypeOf(definition);
  const workload = ctx.parts.store.get(type, namespace, name ?? '');
  if (!workload) throw notFound(definition.plural, name ?? '', definition.group);
  const current = scaleOf(workload);
  if (ctx.verb === 'get') return sendJson(ctx.res, 200, current);
  const body = await readBody(ctx.req);
  const next = (
    ctx.verb === 'patch'
      ? applyPatch(patchTypeOf(ctx.req.headers['content-type']), current, decodeBody(body, 'application/json'))
      : decodeBody(body, ctx.req.headers['content-type'])
  ) as ScaleView;
  const replicas = next?.spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
    throw badRequest('spec.replicas must be a whole number of at least 0');
  if (ctx.verb === 'update' && next.metadata?.resourceVersion && next.metadata.resourceVersion !== workload.metadata.resourceVersion)
    workload.metadata.resourceVersion = next.metadata.resourceVersion; // the store answers 409 Conflict
  const dryRun = ctx.query.getAll('dryRun').includes('All');
  const scaled: KubeObject = { ...workload, metadata: { ...workload.metadata }, spec: { ...(workload.spec as object), replicas } };
  recordUpdate(workload, scaled, fieldManagerOf(ctx.query, ctx.req.headers['user-agent']), 'scale');
  const updated = dryRun ? scaled : ctx.parts.store.update(type, scaled);
  sendJson(ctx.res, 200, scaleOf(updated));
}
