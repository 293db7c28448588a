// The seams inside the dev cluster: the object store (owned by the API server), and the parts
// that plug into it (the simulated kubelet, pod logs, RBAC). Kept here so each part can be
// built and tested on its own.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** A resource type as the API names it, e.g. { group: '', version: 'v1', resource: 'pods' }. */
export interface ResourceType {
  group: string;
  version: string;
  resource: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Errors the store throws; the API server turns them into Kubernetes Status responses. */
export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: 400 | 404 | 409 | 410 | 422,
    readonly reason: 'BadRequest' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Expired' | 'Invalid',
    message: string,
  ) {
    super(message);
  }
}

export interface ObjectStore {
  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined;
  list(type: ResourceType, options?: ListOptions): ListResult;
  /** Assigns uid, resourceVersion, creationTimestamp, a generated name; 409 AlreadyExists. */
  create(type: ResourceType, object: KubeObject): KubeObject;
  /** 409 Conflict when object.metadata.resourceVersion is set and stale; 404 when missing. */
  update(type: ResourceType, object: KubeObject): KubeObject;
  delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject;
  /**
   * Events after `fromResourceVersion` (all current objects as ADDED when undefined), then live.
   * Throws StoreError 410 Expired when that version is older than the history kept.
   */
  watch(type: ResourceType, options: ListOptions & { fromResourceVersion?: string }, listener: (event: WatchEvent) => void): () => void;
}

/** The caller of a request, after authentication (and impersonation, when allowed). */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** What a request asks to do, in RBAC's terms. */
export interface RequestAttributes {
  verb: string; // get, list, watch, create, update, patch, delete, deletecollection, impersonate
  apiGroup: string;
  resource: string; // plural, e.g. 'pods'; '' for non-resource requests
  subresource?: string; // e.g. 'log'
  namespace?: string;
  name?: string;
  nonResourcePath?: string; // e.g. '/version' when resource is ''
}

export interface AuthorizationDecision {
  allowed: boolean;
  reason: string;
}

export type Authorizer = (user: UserInfo, request: RequestAttributes) => AuthorizationDecision;

/** Log lines a simulated container writes, kept per pod/container/attempt, for pods/log. */
export interface LogLine {
  time: string; // RFC 3339 with nanoseconds, as kubelet writes it
  text: string;
}

export interface PodLogQuery {
  namespace: string;
  pod: string;
  container: string;
  previous?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
}

/** A container's stdin (`stdin: true` in its spec), written by attach. */
export interface ContainerStdin {
  /** Whether the container has an open stdin to write to. */
  accepts(namespace: string, pod: string, container: string): boolean;
  write(namespace: string, pod: string, container: string, text: string): void;
  /** An attach session's stdin ended: with `stdinOnce` the container's stdin closes (EOF). */
  detach(namespace: string, pod: string, container: string): void;
}

export interface PodLogSource {
  /** Lines already written, filtered by the query; undefined when there is no such container log. */
  read(query: PodLogQuery): LogLine[] | undefined;
  /** Lines as they are written, after those `read` returned; `onEnd` when the container stops. */
  follow(query: PodLogQuery, onLine: (line: LogLine) => void, onEnd: () => void): () => void;
}
