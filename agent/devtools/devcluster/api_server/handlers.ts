// The resource verbs: get, list, create, update, patch, delete, deletecollection, plus the
// SelfSubjectAccessReview that answers `kubectl auth can-i`.
import type { RequestContext } from './context';
import { decodeBody, readBody, sendJson } from './http';
import { applyPatch, patchTypeOf } from '../store/patch';
import { fieldManagerOf, recordApply, recordUpdate } from '../store/managed_fields';
import { decodeProtobufObject } from './protobuf';
import { ensureDefaultServiceAccount, withDefaults } from '../schema/defaults';
import { apiVersionOf, resourceTypeOf, type ResourceDefinition } from '../schema/resources';
import { ApiError, badRequest, notFound, successStatus } from '../status';
import { includeObjectOf, toTable, wantsTable } from './table';
import type { KubeObject, ResourceType } from '../types';
import { checkKindAndVersion, decodeStrictly, fieldValidationOf, validateObject } from '../schema/validation';

const NAMESPACES: ResourceType = { group: '', version: 'v1', resource: 'namespaces' };
/** Namespaces Kubernetes refuses to delete. */
const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/** Sets kind and apiVersion, which the store does not keep per object. */
export function withTypeMeta(definition: ResourceDefinition, object: KubeObject): KubeObject {
  return { ...object, apiVersion: apiVersionOf(definition), kind: definition.kind };
}

function listOptions(ctx: RequestContext) {
  return {
    namespace: ctx.route.namespace,
    labelSelector: ctx.query.get('labelSelector') ?? undefined,
    fieldSelector: ctx.query.get('fieldSelector') ?? undefined,
  };
}

interface ListPage {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

function respondObjects(ctx: RequestContext, code: number, objects: KubeObject[], single: boolean, page: ListPage = {}): void {
  const { definition } = ctx.route;
  if (wantsTable(ctx.req.headers.accept)) {
    const table = toTable(definition.kind, objects, {
      resourceVersion: page.resourceVersion,
      includeObject: includeObjectOf(ctx.query.get('includeObject')),
    });
    if (page.continue) table.metadata.continue = page.continue;
    sendJson(ctx.res, code, table);
    return;
  }
  if (single) {
    sendJson(ctx.res, code, objects[0]);
    return;
  }
  sendJson(ctx.res, code, { kind: `${definition.kind}List`, apiVersion: apiVersionOf(definition), metadata: page, items: objects });
}

function getExisting(ctx: RequestContext): KubeObject {
  const { definition, namespace, name } = ctx.route;
  const found = ctx.parts.store.get(resourceTypeOf(definition), namespace, name ?? '');
  if (!found) throw notFound(definition.plural, name ?? '', definition.group);
  return withTypeMeta(definition, found);
}

export function handleGet(ctx: RequestContext): void {
  respondObjects(ctx, 200, [getExisting(ctx)], true);
}

export function handleList(ctx: RequestContext): void {
  const { definition } = ctx.route;
  const result = ctx.parts.store.list(resourceTypeOf(definition), listOptions(ctx));
  const { items, page } = paginate(ctx, result.items);
  respondObjects(
    ctx,
    200,
    items.map((o) => withTypeMeta(definition, o)),
    false,
    { resourceVersion: result.resourceVersion, ...page },
  );
}

/**
 * limit/continue: a page of the (namespace/name ordered) list after the continue token's key.
 * Pages come from the current state, not a snapshot: the dev cluster keeps no old versions.
 */
function paginate(ctx: RequestContext, all: KubeObject[]): { items: KubeObject[]; page: ListPage } {
  const limit = Number(ctx.query.get('limit') ?? '');
  const token = ctx.query.get('continue');
  let items = all;
  if (token) {
    const after = decodeContinueToken(token);
    items = items.filter((o) => objectSortKey(o) > after);
  }
  if (!Number.isInteger(limit) || limit <= 0 || items.length <= limit) return { items, page: {} };
  const pageItems = items.slice(0, limit);
  const last = objectSortKey(pageItems[pageItems.length - 1]!);
  return {
    items: pageItems,
    page: { continue: Buffer.from(JSON.stringify({ after: last })).toString('base64url'), remainingItemCount: items.length - limit },
  };
}

function objectSortKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}\u0000${object.metadata.name ?? ''}`;
}

function decodeContinueToken(token: string): string {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof decoded.after === 'string') return decoded.after;
  } catch {
    // fall through to the error below
  }
  throw badRequest('the continue token is not valid');
}

async function readObject(ctx: RequestContext): Promise<KubeObject> {
  const body = await readBody(ctx.req);
  const contentType = ctx.req.headers['content-type'];
  const decoded = /protobuf/i.test(contentType ?? '') ? decodeProtobufObject(body) : decodeBody(body, contentType);
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded))
    throw badRequest('the request body must be a single object');
  const object = decoded as KubeObject;
  if (object.metadata !== undefined && (typeof object.metadata !== 'object' || object.metadata === null))
    throw badRequest('metadata must be an object');
  object.metadata = { ...(object.metadata ?? {}) };
  return object;
}

/** Places the object where the request path says, after checks every write shares. */
function prepareForWrite(ctx: RequestContext, object: KubeObject): KubeObject {
  const { definition, namespace } = ctx.route;
  checkKindAndVersion(definition, object);
  if (definition.namespaced) {
    if (object.metadata.namespace && namespace && object.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    object.metadata.namespace = namespace ?? object.metadata.namespace;
    if (!object.metadata.namespace) throw badRequest('a namespaced object needs a namespace');
  } else {
    delete object.metadata.namespace;
  }
  const prepared = withTypeMeta(definition, object);
  warnAbout(ctx, decodeStrictly(definition, prepared, fieldValidationOf(ctx.query.get('fieldValidation'))));
  validateObject(definition, prepared);
  return prepared;
}

/** Warning headers as the API server sends them (kubectl prints each as "Warning: ..."). */
function warnAbout(ctx: RequestContext, warnings: string[]): void {
  if (warnings.length === 0) return;
  ctx.res.setHeader(
    'Warning',
    warnings.map((warning) => `299 - ${JSON.stringify(warning)}`),
  );
}

function requireNamespace(ctx: RequestContext, namespace: string | undefined): void {
  if (namespace && !ctx.parts.store.get(NAMESPACES, undefined, namespace)) throw notFound('namespaces', namespace);
}

export async function handleCreate(ctx: RequestContext): Promise<void> {
  if (ctx.route.definition.plural === 'selfsubjectaccessreviews') return handleSelfSubjectAccessReview(ctx);
  if (ctx.route.name !== undefined) throw new ApiError(405, 'MethodNotAllowed', 'POST is not allowed on a named object');
  const object = prepareForWrite(ctx, await readObject(ctx));
  requireNamespace(ctx, object.metadata.namespace);
  recordUpdate(undefined, object, managerOf(ctx));
  const created = createObject(ctx, object);
  if (created.kind === 'Namespace' && !isDryRun(ctx)) ensureDefaultServiceAccount(ctx.parts.store, created.metadata.name ?? '');
  respondObjects(ctx, 201, [created], true);
}

function createObject(ctx: RequestContext, object: KubeObject): KubeObject {
  const { definition } = ctx.route;
  if (isDryRun(ctx)) return withDefaults(object);
  return withTypeMeta(definition, ctx.parts.store.create(resourceTypeOf(definition), withDefaults(object)));
}

function managerOf(ctx: RequestContext): string {
  return fieldManagerOf(ctx.query, ctx.req.headers['user-agent']);
}

/** Field ownership follows writes to the object itself; status writes (the kubelet's, controllers') are not tracked. */
function recordWrite(ctx: RequestContext, before: KubeObject, after: KubeObject): KubeObject {
  if (ctx.route.subresource !== 'status') recordUpdate(before, after, managerOf(ctx));
  return after;
}

function isDryRun(ctx: RequestContext): boolean {
  return ctx.query.getAll('dryRun').includes('All');
}

function storeUpdate(ctx: RequestContext, object: KubeObject): KubeObject {
  const { definition } = ctx.route;
  if (isDryRun(ctx)) return object;
  return withTypeMeta(definition, ctx.parts.store.update(resourceTypeOf(definition), object));
}

/** A status write changes only .status; any other write keeps the current .status. */
function mergeForSubresource(ctx: RequestContext, current: KubeObject, next: KubeObject): KubeObject {
  if (ctx.route.subresource === 'status')
    return { ...current, status: next.status, metadata: { ...current.metadata, resourceVersion: next.metadata.resourceVersion } };
  if (current.status !== undefined && ctx.route.definition.subresources.status) return { ...next, status: current.status };
  return next;
}

function checkSubresourceWritable(ctx: RequestContext): void {
  const sub = ctx.route.subresource;
  if (sub !== undefined && sub !== 'status')
    throw new ApiError(405, 'MethodNotAllowed', `${ctx.verb} is not allowed on ${ctx.route.definition.plural}/${sub}`);
}

export async function handleUpdate(ctx: RequestContext): Promise<void> {
  checkSubresourceWritable(ctx);
  const incoming = await readObject(ctx);
  checkKindAndVersion(ctx.route.definition, incoming);
  if (incoming.metadata.name !== ctx.route.name)
    throw badRequest(`the name of the object (${String(incoming.metadata.name)}) does not match the name on the URL (${ctx.route.name})`);
  const current = getExisting(ctx);
  const updated = storeUpdate(ctx, recordWrite(ctx, current, prepareForWrite(ctx, mergeForSubresource(ctx, current, incoming))));
  respondObjects(ctx, 200, [updated], true);
}

export async function handlePatch(ctx: RequestContext): Promise<void> {
  checkSubresourceWritable(ctx);
  const type = patchTypeOf(ctx.req.headers['content-type']);
  if (type === 'apply' && !ctx.query.get('fieldManager'))
    throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  const patch = decodeBody(await readBody(ctx.req), type === 'apply' ? 'application/yaml' : 'application/json');
  const { definition, namespace, name } = ctx.route;
  const existing = ctx.parts.store.get(resourceTypeOf(definition), namespace, name ?? '');
  if (!existing) {
    if (type !== 'apply') throw notFound(definition.plural, name ?? '', definition.group);
    return applyCreate(ctx, patch);
  }
  const current = withTypeMeta(definition, existing);
  if (type === 'apply') checkApplyBody(patch);
  const patched = applyPatch(type, current, patch) as KubeObject;
  if (typeof patched !== 'object' || patched === null || typeof patched.metadata !== 'object' || patched.metadata === null)
    throw badRequest('the patch must leave an object with metadata');
  patched.metadata = { ...patched.metadata, name: current.metadata.name, namespace: current.metadata.namespace, uid: current.metadata.uid };
  if (type === 'apply' && ctx.route.subresource !== 'status')
    recordApply(current, patch as KubeObject, patched, managerOf(ctx), isForced(ctx));
  const prepared = prepareForWrite(ctx, mergeForSubresource(ctx, current, patched));
  respondObjects(ctx, 200, [storeUpdate(ctx, type === 'apply' ? prepared : recordWrite(ctx, current, prepared))], true);
}

function checkApplyBody(patch: unknown): asserts patch is KubeObject {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw badRequest('an apply patch must be an object');
}

function isForced(ctx: RequestContext): boolean {
  return ctx.query.get('force') === 'true';
}

/** Server-side apply of an object that does not exist yet: a create. */
async function applyCreate(ctx: RequestContext, patch: unknown): Promise<void> {
  checkApplyBody(patch);
  const object = structuredClone(patch);
  object.metadata = { ...(object.metadata ?? {}) };
  if (object.metadata.name !== undefined && object.metadata.name !== ctx.route.name)
    throw badRequest('the name of the object does not match the name on the URL');
  object.metadata.name = ctx.route.name;
  const prepared = prepareForWrite(ctx, object);
  requireNamespace(ctx, prepared.metadata.namespace);
  recordApply(undefined, patch, prepared, managerOf(ctx), isForced(ctx));
  respondObjects(ctx, 201, [createObject(ctx, prepared)], true);
}

export function handleDelete(ctx: RequestContext): void {
  const { definition, namespace, name } = ctx.route;
  if (ctx.route.subresource !== undefined)
    throw new ApiError(405, 'MethodNotAllowed', `delete is not allowed on ${definition.plural}/${ctx.route.subresource}`);
  if (definition.plural === 'namespaces' && PROTECTED_NAMESPACES.has(name ?? '')) {
    throw new ApiError(403, 'Forbidden', `namespaces "${name}" is forbidden: this namespace may not be deleted`, {
      name,
      kind: 'namespaces',
    });
  }
  if (isDryRun(ctx)) return respondObjects(ctx, 200, [getExisting(ctx)], true);
  const deleted = withTypeMeta(definition, ctx.parts.store.delete(resourceTypeOf(definition), namespace, name ?? ''));
  if (definition.plural === 'namespaces') deleteNamespaceContents(ctx, name ?? '');
  if (definition.plural === 'pods') return respondObjects(ctx, 200, [deleted], true);
  sendJson(ctx.res, 200, successStatus({ name, group: definition.group, kind: definition.plural }));
}

/** Deleting a namespace deletes everything in it (no finalizers: there is no controller). */
function deleteNamespaceContents(ctx: RequestContext, namespace: string): void {
  const types = new Map(
    ctx.parts.resources.definitions.filter((r) => r.namespaced).map((r) => [JSON.stringify(resourceTypeOf(r)), resourceTypeOf(r)]),
  );
  for (const type of types.values()) {
    for (const object of ctx.parts.store.list(type, { namespace }).items)
      ctx.parts.store.delete(type, namespace, object.metadata.name ?? '');
  }
}

export function handleDeleteCollection(ctx: RequestContext): void {
  const { definition } = ctx.route;
  const type = resourceTypeOf(definition);
  const matching = ctx.parts.store.list(type, listOptions(ctx)).items;
  const deleted = isDryRun(ctx) ? matching : matching.map((o) => ctx.parts.store.delete(type, o.metadata.namespace, o.metadata.name ?? ''));
  respondObjects(
    ctx,
    200,
    deleted.map((o) => withTypeMeta(definition, o)),
    false,
    { resourceVersion: ctx.parts.store.resourceVersion },
  );
}

interface AccessReviewSpec {
  resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string };
  nonResourceAttributes?: { path?: string; verb?: string };
}

async function handleSelfSubjectAccessReview(ctx: RequestContext): Promise<void> {
  const review = await readObject(ctx);
  checkKindAndVersion(ctx.route.definition, review);
  const spec = (review.spec ?? {}) as AccessReviewSpec;
  const resource = spec.resourceAttributes;
  const nonResource = spec.nonResourceAttributes;
  if (!resource && !nonResource)
    throw new ApiError(
      422,
      'Invalid',
      'SelfSubjectAccessReview is invalid: spec: Invalid value: resourceAttributes or nonResourceAttributes is required',
    );
  const decision = resource
    ? ctx.parts.authorize(ctx.user, {
        verb: resource.verb ?? '',
        apiGroup: resource.group ?? '',
        resource: resource.resource ?? '',
        subresource: resource.subresource || undefined,
        namespace: resource.namespace || undefined,
        name: resource.name || undefined,
      })
    : ctx.parts.authorize(ctx.user, {
        verb: nonResource?.verb ?? '',
        apiGroup: '',
        resource: '',
        nonResourcePath: nonResource?.path ?? '',
      });
  const status: Record<string, unknown> = { allowed: decision.allowed };
  if (decision.reason) status.reason = decision.reason;
  if (!decision.allowed) status.denied = false;
  const answer = withTypeMeta(ctx.route.definition, {
    ...review,
    metadata: { creationTimestamp: null as unknown as string },
    spec,
    status,
  });
  sendJson(ctx.res, 201, answer);
}
