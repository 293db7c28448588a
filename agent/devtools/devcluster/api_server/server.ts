// The dev cluster's HTTPS front: authentication, impersonation, authorization, then discovery,
// OpenAPI or a resource verb. Every failure is answered as a Kubernetes Status.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { resolveImpersonation } from '../auth/impersonation';
import type { RequestContext, ServerParts } from './context';
import {
  acceptsAggregatedDiscovery,
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  aggregatedDiscovery,
  coreVersions,
  groupDocument,
  groupList,
  resourceList,
  versionInfo,
} from '../schema/discovery';
import { handleCreate, handleDelete, handleDeleteCollection, handleGet, handleList, handlePatch, handleUpdate } from './handlers';
import { sendError, sendJson, sendStatus } from './http';
import { openApiV2Json, openApiV2Protobuf, openApiV3Document, openApiV3Index, parseOpenApiV3Path } from '../schema/openapi';
import { handlePodLog } from './pod_log_endpoint';
import { handleScale } from './scale_endpoint';
import { parseResourcePath, verbOf, type ResourceRoute } from './routes';
import { ApiError, failureStatus, toStatus } from '../status';
import type { RequestAttributes, UserInfo } from '../types';
import type { ResourceDefinition } from '../schema/resources';
import { handleWatch } from './watch';

const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);
/** Paths anyone may read, as kube-apiserver's system:public-info-viewer allows. */
const PUBLIC_PATHS = new Set([...HEALTH_PATHS, '/version']);

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

export function createApiServer(parts: ServerParts, tls: TlsMaterial): https.Server {
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Path only: query strings never carry tokens here, but headers do, so they are not logged.
    res.on('finish', () =>
      parts.logger.debug('request', { method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode }),
    );
    handleRequest(parts, req, res).catch((err: unknown) => answerFailure(parts, res, err));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      handleUpgrade(parts, req, socket, head);
    } catch (err) {
      rejectUpgrade(socket, toStatus(err).code, toStatus(err).message);
    }
  });
  server.on('clientError', (_err, socket: Duplex) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  return server;
}

function answerFailure(parts: ServerParts, res: ServerResponse, err: unknown): void {
  if (!(err instanceof ApiError) && (err as Error)?.name !== 'StoreError') parts.logger.error('request failed', { error: err });
  if (res.headersSent) {
    res.end();
    return;
  }
  sendError(res, err);
}

function authenticate(parts: ServerParts, req: IncomingMessage): UserInfo {
  const caller = parts.tokens.authenticate(req.headers.authorization);
  if (!caller) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
  return resolveImpersonation(caller, req.headers, parts.authorize);
}

function forbidden(user: UserInfo, attributes: RequestAttributes): ApiError {
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  const scope = attributes.namespace ? `in the namespace "${attributes.namespace}"` : 'at the cluster scope';
  const subject = attributes.name ? `${attributes.resource} "${attributes.name}"` : attributes.resource;
  const message = attributes.resource
    ? `${subject} is forbidden: User "${user.username}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.apiGroup}" ${scope}`
    : `forbidden: User "${user.username}" cannot ${attributes.verb} path "${attributes.nonResourcePath}"`;
  return new ApiError(403, 'Forbidden', message, { name: attributes.name, group: attributes.apiGroup, kind: attributes.resource });
}

function authorizeOrThrow(parts: ServerParts, user: UserInfo, attributes: RequestAttributes): void {
  const decision = parts.authorize(user, attributes);
  if (!decision.allowed) throw forbidden(user, attributes);
}

async function handleRequest(parts: ServerParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://devcluster.invalid');
  if (PUBLIC_PATHS.has(url.pathname) && req.method === 'GET') return servePublic(res, url.pathname);
  const user = authenticate(parts, req);
  const route = parseResourcePath(url.pathname, parts.resources.definitions);
  if (!route) {
    authorizeOrThrow(parts, user, { verb: (req.method ?? 'GET').toLowerCase(), apiGroup: '', resource: '', nonResourcePath: url.pathname });
    return serveNonResource(req, res, url, parts.resources.definitions);
  }
  const verb = verbOf(req.method ?? 'GET', route, url.searchParams);
  checkSubresource(route, verb);
  authorizeOrThrow(parts, user, attributesOf(route, verb));
  await dispatch({ req, res, query: url.searchParams, route, verb, user, parts });
}

function attributesOf(route: ResourceRoute, verb: string): RequestAttributes {
  return {
    verb,
    apiGroup: route.definition.group,
    resource: route.definition.plural,
    subresource: route.subresource,
    namespace: route.namespace,
    name: route.name,
  };
}

function checkSubresource(route: ResourceRoute, verb: string): void {
  if (route.subresource === undefined) {
    if (!route.definition.verbs.includes(verb)) throw methodNotAllowed(verb, route.definition.plural);
    return;
  }
  const verbs = route.definition.subresources[route.subresource];
  if (!verbs)
    throw new ApiError(
      404,
      'NotFound',
      `the server could not find the requested resource (${route.definition.plural}/${route.subresource})`,
    );
  if (!verbs.includes(verb)) throw methodNotAllowed(verb, `${route.definition.plural}/${route.subresource}`);
}

function methodNotAllowed(verb: string, resource: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${verb} ${resource})`);
}

async function dispatch(ctx: RequestContext): Promise<void> {
  if (ctx.route.subresource === 'log') return handlePodLog(ctx);
  if (ctx.route.subresource === 'scale') return handleScale(ctx);
  if (ctx.route.subresource === 'exec' || ctx.route.subresource === 'attach' || ctx.route.subresource === 'portforward') {
    throw new ApiError(400, 'BadRequest', `${ctx.route.subresource} needs a connection upgrade (WebSocket or SPDY)`);
  }
  switch (ctx.verb) {
    case 'get':
      return handleGet(ctx);
    case 'list':
      return handleList(ctx);
    case 'watch':
      return handleWatch(ctx);
    case 'create':
      return handleCreate(ctx);
    case 'update':
      return handleUpdate(ctx);
    case 'patch':
      return handlePatch(ctx);
    case 'delete':
      return handleDelete(ctx);
    case 'deletecollection':
      return handleDeleteCollection(ctx);
  }
}

function servePublic(res: ServerResponse, pathname: string): void {
  if (pathname === '/version') return sendJson(res, 200, versionInfo());
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('ok');
}

function serveNonResource(req: IncomingMessage, res: ServerResponse, url: URL, table: readonly ResourceDefinition[]): void {
  const path = url.pathname.replace(/\/+$/, '');
  if ((path === '/api' || path === '/apis') && acceptsAggregatedDiscovery(req.headers.accept)) {
    const body = JSON.stringify(aggregatedDiscovery(path === '/api', table));
    res.writeHead(200, { 'Content-Type': AGGREGATED_DISCOVERY_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const document = nonResourceDocument(req, url, table);
  if (document === undefined) {
    return sendStatus(res, failureStatus(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
  }
  if (Buffer.isBuffer(document)) {
    // As kube-openapi does: Go's mime parser rejects the '@' of the protobuf media type.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': document.length });
    res.end(document);
    return;
  }
  sendJson(res, 200, document);
}

function nonResourceDocument(req: IncomingMessage, url: URL, table: readonly ResourceDefinition[]): unknown {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/api') return coreVersions(req.socket.localAddress ? `${req.socket.localAddress}:${req.socket.localPort}` : 'localhost');
  if (path === '/apis') return groupList(table);
  if (path === '/openapi/v2') return /protobuf/.test(req.headers.accept ?? '') ? openApiV2Protobuf() : openApiV2Json();
  if (path === '/openapi/v3') return openApiV3Index(table);
  const openApiGroup = parseOpenApiV3Path(path);
  if (openApiGroup) return openApiV3Document(openApiGroup.group, openApiGroup.version, table);
  const core = /^\/api\/([^/]+)$/.exec(path);
  if (core) return resourceList('', core[1]!, table);
  const group = /^\/apis\/([^/]+)$/.exec(path);
  if (group) return groupDocument(group[1]!, table);
  const groupVersion = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (groupVersion) return resourceList(groupVersion[1]!, groupVersion[2]!, table);
  return undefined;
}

// ---- upgrades: pods/exec, pods/attach and pods/portforward -------------------------------

const UPGRADABLE = new Set(['exec', 'attach', 'portforward']);

function rejectUpgrade(socket: Duplex, code: number, message: string): void {
  const body = JSON.stringify(
    failureStatus(code, code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'NotFound' : 'BadRequest', message),
  );
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${code} ${code === 401 ? 'Unauthorized' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}

function handleUpgrade(parts: ServerParts, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const url = new URL(req.url ?? '/', 'https://devcluster.invalid');
  const user = authenticate(parts, req);
  const route = parseResourcePath(url.pathname, parts.resources.definitions);
  if (!route || route.definition.plural !== 'pods' || !UPGRADABLE.has(route.subresource ?? '')) {
    throw new ApiError(400, 'BadRequest', 'only pods/exec, pods/attach and pods/portforward accept a connection upgrade');
  }
  authorizeOrThrow(parts, user, attributesOf(route, 'create'));
  const pod = parts.store.get({ group: '', version: 'v1', resource: 'pods' }, route.namespace, route.name ?? '');
  if (!pod) throw new ApiError(404, 'NotFound', `pods "${route.name ?? ''}" not found`);
  const handle = route.subresource === 'portforward' ? parts.runtime.handlePortForwardUpgrade : parts.runtime.handleExecUpgrade;
  if (!handle) throw new ApiError(400, 'BadRequest', `${route.subresource} is not available: this dev cluster runs no pod runtime`);
  handle(req, socket, head, { ...pod, apiVersion: 'v1', kind: 'Pod' }, url.searchParams);
}
