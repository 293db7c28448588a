// Any Kubernetes object through kas's k8s proxy: discovery (kind → resource path), get, server-
// side apply (with dryRun and force), merge patches, the scale subresource, delete, and a watch
// of one object or of events. No redirects, a timeout until headers, bounded bodies, as the rest
// of the extension's HTTP. Failures are codes; of a refused write only the field paths and the
// field managers' names (structured parts of the Status) are kept, never the server's message.
import type * as http from 'node:http';
import * as https from 'node:https';
import * as httpPlain from 'node:http';
import { codeForNetworkError, codeForStatus, kasRefusedCredentials, KasClientError, UserFacingError } from '../kas_client/errors';
import { joinUrl, readBody } from '../kas_client/http';
import type { ClusterParts, KubeObject } from '../kas_client/kube_client';
import type { ObjectIdentity } from './resource_ref';

export type { KubeObject };

export const FIELD_MANAGER = 'kubernetes-agent-workbench';
const DEFAULT_TIMEOUT_MS = 15_000;

export interface FieldConflict {
  manager: string;
  field: string;
}

/** An apply refused with 409: other managers own fields it changes, or the object moved on. */
export class ApplyConflictError extends UserFacingError {
  constructor(readonly conflicts: FieldConflict[]) {
    super(
      'CONFLICT',
      conflicts.length > 0
        ? `fields owned by another manager: ${conflicts.map((c) => `${c.field} (${c.manager})`).join(', ')}`
        : 'the object changed since it was loaded (resourceVersion)',
    );
  }
}

/** A write the cluster refused as invalid (422): the fields it named. */
export class InvalidObjectError extends UserFacingError {
  constructor(readonly fields: string[]) {
    super('INVALID', fields.length > 0 ? `the cluster refused these fields: ${fields.join(', ')}` : 'the cluster refused the object');
  }
}

interface StatusBody {
  kind?: string;
  reason?: string;
  details?: { causes?: Array<{ reason?: unknown; message?: unknown; field?: unknown }> };
}

/** Field paths as the API server prints them; anything else from the server is dropped. */
const FIELD_PATH = /^[A-Za-z0-9_.\-[\]="/:,]{1,200}$/;
const MANAGER_IN_MESSAGE = /^conflicts? with "([A-Za-z0-9_.:-]{1,128})"/;

function causesOf(body: StatusBody): Array<{ reason: string; field?: string; manager?: string }> {
  return (body.details?.causes ?? []).map((cause) => ({
    reason: typeof cause.reason === 'string' ? cause.reason : '',
    field: typeof cause.field === 'string' && FIELD_PATH.test(cause.field) ? cause.field : undefined,
    manager: typeof cause.message === 'string' ? MANAGER_IN_MESSAGE.exec(cause.message)?.[1] : undefined,
  }));
}

function failureOf(status: number, body: Buffer, fromKas: boolean): Error {
  let parsed: StatusBody = {};
  try {
    parsed = JSON.parse(body.toString('utf8')) as StatusBody;
  } catch {
    // not a Status: the code alone
  }
  if (status === 409 && parsed.reason === 'Conflict') {
    const conflicts = causesOf(parsed)
      .filter((c) => c.reason === 'FieldManagerConflict' && c.field)
      .map((c) => ({ field: c.field!, manager: c.manager ?? 'another manager' }));
    return new ApplyConflictError(conflicts);
  }
  if (status === 422) return new InvalidObjectError(causesOf(parsed).flatMap((c) => (c.field ? [c.field] : [])));
  return new KasClientError(codeForStatus(status, fromKas), status);
}

interface SendOptions {
  method?: string;
  query?: Record<string, string | undefined>;
  body?: string;
  contentType?: string;
  signal?: AbortSignal;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export class ResourceApi {
  private readonly discovery = new Map<string, Promise<ApiResource[]>>();

  constructor(private readonly parts: ClusterParts) {}

  /** Opens a request; resolves with a 2xx response, rejects with a code (and fields) otherwise. */
  private open(path: string, options: SendOptions = {}): Promise<http.IncomingMessage> {
    const url = joinUrl(this.parts.server, path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const payload = options.body === undefined ? undefined : Buffer.from(options.body);
    const headers: http.OutgoingHttpHeaders = { Authorization: `Bearer ${this.parts.token}`, Accept: 'application/json' };
    if (payload) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : httpPlain;
      const request = transport.request(url, {
        method: options.method ?? 'GET',
        headers,
        ca: this.parts.caPem,
        signal: options.signal,
      });
      const timer = setTimeout(() => request.destroy(new KasClientError('TIMEOUT')), this.parts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      request.on('response', (response) => {
        clearTimeout(timer);
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(response);
        const fromKas = kasRefusedCredentials((name) => response.headers[name]);
        readBody(response).then(
          (body) => reject(failureOf(status, body, fromKas)),
          () => reject(new KasClientError(codeForStatus(status, fromKas), status)),
        );
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (options.signal?.aborted) reject(new KasClientError('CANCELLED'));
        else reject(error instanceof KasClientError ? error : new KasClientError(codeForNetworkError(error)));
      });
      request.end(payload);
    });
  }

  private async json<T>(path: string, options: SendOptions = {}): Promise<T> {
    const response = await this.open(path, options);
    const timer = setTimeout(() => response.destroy(new KasClientError('TIMEOUT')), this.parts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    try {
      return JSON.parse((await readBody(response)).toString('utf8')) as T;
    } catch (error) {
      throw error instanceof KasClientError ? error : new KasClientError('BAD_RESPONSE');
    } finally {
      clearTimeout(timer);
    }
  }

  private resources(apiVersion: string): Promise<ApiResource[]> {
    let found = this.discovery.get(apiVersion);
    if (!found) {
      const path = apiVersion.includes('/') ? `apis/${apiVersion}` : `api/${apiVersion}`;
      found = this.json<{ resources?: ApiResource[] }>(path).then((list) => (list.resources ?? []).filter((r) => !r.name.includes('/')));
      this.discovery.set(apiVersion, found);
      found.catch(() => this.discovery.delete(apiVersion));
    }
    return found;
  }

  /** The collection path of a kind (namespaced when it is), by discovery. */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const resource = (await this.resources(apiVersion)).find((r) => r.kind === kind);
    if (!resource) throw new KasClientError('NOT_FOUND', 404);
    const prefix = apiVersion.includes('/') ? `apis/${apiVersion}` : `api/${apiVersion}`;
    if (!resource.namespaced) return `${prefix}/${resource.name}`;
    return `${prefix}/namespaces/${encodeURIComponent(namespace || 'default')}/${resource.name}`;
  }

  async objectPath(ref: ObjectIdentity): Promise<string> {
    return `${await this.collectionPath(ref.apiVersion, ref.kind, ref.namespace)}/${encodeURIComponent(ref.name)}`;
  }

  async get(ref: ObjectIdentity, signal?: AbortSignal): Promise<KubeObject> {
    return this.json<KubeObject>(await this.objectPath(ref), { signal });
  }

  /** Server-side apply of one object (YAML or JSON text, or an object) as this extension's field manager. */
  async apply(object: KubeObject, options: { dryRun?: boolean; force?: boolean } = {}): Promise<KubeObject> {
    const path = await this.objectPath({
      apiVersion: object.apiVersion ?? '',
      kind: object.kind ?? '',
      namespace: object.metadata?.namespace,
      name: object.metadata?.name ?? '',
    });
    return this.json<KubeObject>(path, {
      method: 'PATCH',
      body: JSON.stringify(object),
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: FIELD_MANAGER, dryRun: options.dryRun ? 'All' : undefined, force: options.force ? 'true' : undefined },
    });
  }

  async mergePatch(ref: ObjectIdentity, patch: unknown, subresource?: string): Promise<KubeObject> {
    const path = `${await this.objectPath(ref)}${subresource ? `/${subresource}` : ''}`;
    return this.json<KubeObject>(path, {
      method: 'PATCH',
      body: JSON.stringify(patch),
      contentType: 'application/merge-patch+json',
      query: { fieldManager: FIELD_MANAGER },
    });
  }

  async delete(ref: ObjectIdentity): Promise<void> {
    await this.json<unknown>(await this.objectPath(ref), { method: 'DELETE' });
  }

  async list(
    collectionPath: string,
    query: Record<string, string | undefined> = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const list = await this.json<{ items?: KubeObject[]; metadata?: { resourceVersion?: string } }>(collectionPath, { query });
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /**
   * Watches a collection (a field selector narrows it to one object) from a resourceVersion.
   * Resolves when the server ends the stream; rejects with a code (GONE on a 410 in the stream).
   */
  async watch(
    collectionPath: string,
    query: Record<string, string | undefined>,
    onEvent: (type: string, object: KubeObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const response = await this.open(collectionPath, { query: { ...query, watch: '1', allowWatchBookmarks: 'true' }, signal });
    let buffered = '';
    try {
      for await (const chunk of response) {
        buffered += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const event = JSON.parse(line) as { type?: string; object?: KubeObject & { code?: number } };
          if (event.type === 'ERROR') throw new KasClientError(event.object?.code === 410 ? 'GONE' : 'SERVER_ERROR', event.object?.code);
          if (event.type && event.object) onEvent(event.type, event.object);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error instanceof KasClientError ? error : new KasClientError('UNREACHABLE');
    }
  }
}
