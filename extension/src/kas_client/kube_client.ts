// What the extension asks of a cluster, reached through kas's k8s proxy with the
// `pat:<agent-id>:<token>` credential. Only the interface and the small pure helpers live here:
// the implementation is @kubernetes/client-node in the lazily loaded Kubernetes layer (kube/),
// so nothing here pulls client-node into the activation path.
import type { Readable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export type Pod = V1Pod;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface PodList {
  items: Pod[];
  resourceVersion: string;
}

/** Any Kubernetes object, as the watch cache holds it (typed views narrow it where they read it). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: Date | string;
    deletionTimestamp?: Date | string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
    managedFields?: unknown;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface ObjectList<T> {
  items: T[];
  resourceVersion: string;
}

export interface LogOptions {
  container?: string;
  follow?: boolean;
  tailLines?: number;
  timestamps?: boolean;
  /** The container's previous instance (before its last restart); the API answers 400 when there is none. */
  previous?: boolean;
  signal?: AbortSignal;
}

/** The objects of Create Restricted Namespace (see commands/restrictedNamespace.ts). */
export interface RestrictedNamespaceObjects {
  namespace: Record<string, unknown>;
  serviceAccount: Record<string, unknown>;
  roleBinding: Record<string, unknown>;
}

/**
 * Every failure rejects with a KasClientError (a code and our own explanation). Redirects are
 * never followed: a 3xx rejects with REDIRECT_REFUSED before its target is contacted.
 */
export interface KubeClient {
  listNamespaces(signal?: AbortSignal): Promise<string[]>;
  listPods(namespace: string, labelSelector?: string, signal?: AbortSignal): Promise<PodList>;
  readPod(namespace: string, name: string, signal?: AbortSignal): Promise<Pod>;
  deletePod(namespace: string, name: string): Promise<void>;
  /** Creates the namespace, then its service account, then the RoleBinding. */
  createRestrictedNamespace(objects: RestrictedNamespaceObjects): Promise<void>;
  /**
   * Watches pods from `resourceVersion`; calls `onEvent` per event until the server ends the
   * stream or `signal` aborts. Resolves when the stream ends; rejects on errors (GONE on 410,
   * also when it arrives as an ERROR event inside the stream).
   */
  watchPods(
    namespace: string,
    options: { resourceVersion: string; labelSelector?: string },
    onEvent: (event: WatchEvent<Pod>) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Lists a collection path (`/apis/apps/v1/namespaces/x/deployments`) as plain JSON objects. */
  listObjects(path: string, options: { labelSelector?: string }, signal?: AbortSignal): Promise<ObjectList<KubeObject>>;
  /** Watches a collection path; the same contract as watchPods (GONE on 410, bookmarks passed on). */
  watchObjects(
    path: string,
    options: { resourceVersion: string; labelSelector?: string },
    onEvent: (event: WatchEvent<KubeObject>) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Opens the log stream of a container; the caller reads and destroys it. */
  streamLogs(namespace: string, pod: string, options: LogOptions): Promise<Readable>;
}

/** Where and as whom a cluster is reached: one per (connection, agent). */
export interface ClusterParts {
  /** The k8s proxy URL, path prefix included (https://host:8154/k8s-proxy/). */
  server: string;
  /** The bearer token as sent, e.g. `pat:<agent-id>:<token>`; never logged. */
  token: string;
  caPem?: string;
  /** Time allowed until response headers (and whole non-streaming answers) arrive. */
  timeoutMs?: number;
}

/** A pod's name; client-node types every metadata field as optional. */
export function podName(pod: Pod): string {
  return pod.metadata?.name ?? '';
}
