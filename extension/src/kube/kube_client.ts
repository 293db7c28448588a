// KubeClient (kasClient/kubeClient.ts) on @kubernetes/client-node: CoreV1Api and
// RbacAuthorizationV1Api for requests, Watch for the pod watch, and node-fetch with the
// KubeConfig's own fetch options for log streams (client-node's Log pipes into a Writable and
// cannot report a connection that breaks mid-stream, which the log view must show).
import type { Readable } from 'node:stream';
import fetch from 'node-fetch';
import type {
  ConfigurationOptions,
  CoreV1Api,
  ObservableMiddleware,
  RbacAuthorizationV1Api,
  V1Namespace,
  V1RoleBinding,
  V1ServiceAccount,
  Watch,
} from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { codeForStatus, KasClientError, kasRefusedCredentials } from '../kas_client/errors';
import type {
  KubeClient,
  KubeObject,
  LogOptions,
  ObjectList,
  Pod,
  PodList,
  RestrictedNamespaceObjects,
  WatchEvent,
  WatchEventType,
} from '../kas_client/kube_client';
import type { ClientNode, KasKubeConfig } from './kube_config';
import { mapped, toKasClientError } from './errors';

const enc = encodeURIComponent;

export class ClientNodeKubeClient implements KubeClient {
  private readonly core: CoreV1Api;
  private readonly rbac: RbacAuthorizationV1Api;

  constructor(
    private readonly k8s: ClientNode,
    private readonly kubeConfig: KasKubeConfig,
  ) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.rbac = kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  }

  async listNamespaces(signal?: AbortSignal): Promise<string[]> {
    const list = await mapped(() => this.core.listNamespace({}, this.withSignal(signal)), signal);
    return list.items.map((n) => n.metadata?.name ?? '').filter((name) => name !== '');
  }

  async listPods(namespace: string, labelSelector?: string, signal?: AbortSignal): Promise<PodList> {
    const list = await mapped(() => this.core.listNamespacedPod({ namespace, labelSelector }, this.withSignal(signal)), signal);
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '0' };
  }

  readPod(namespace: string, name: string, signal?: AbortSignal): Promise<Pod> {
    return mapped(() => this.core.readNamespacedPod({ namespace, name }, this.withSignal(signal)), signal);
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    await mapped(() => this.core.deleteNamespacedPod({ namespace, name }));
  }

  async createRestrictedNamespace(objects: RestrictedNamespaceObjects): Promise<void> {
    const namespace = objects.namespace as V1Namespace;
    const name = namespace.metadata?.name ?? '';
    await mapped(() => this.core.createNamespace({ body: namespace }));
    await mapped(() => this.core.createNamespacedServiceAccount({ namespace: name, body: objects.serviceAccount as V1ServiceAccount }));
    await mapped(() => this.rbac.createNamespacedRoleBinding({ namespace: name, body: objects.roleBinding as unknown as V1RoleBinding }));
  }

  watchPods(
    namespace: string,
    options: { resourceVersion: string; labelSelector?: string },
    onEvent: (event: WatchEvent<Pod>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return this.watchObjects(
      `/api/v1/namespaces/${enc(namespace)}/pods`,
      options,
      onEvent as (event: WatchEvent<KubeObject>) => void,
      signal,
    );
  }

  async listObjects(path: string, options: { labelSelector?: string }, signal?: AbortSignal): Promise<ObjectList<KubeObject>> {
    const url = this.urlOf(path);
    if (options.labelSelector) url.searchParams.set('labelSelector', options.labelSelector);
    return mapped(async () => {
      const init = await this.kubeConfig.applyToFetchOptions({});
      const response = await fetch(url.toString(), { ...init, method: 'GET', signal: signal as never });
      if (response.status !== 200) {
        response.body.resume();
        throw new KasClientError(statusFailure(response.status, response.headers), response.status);
      }
      const list = (await response.json()) as { items?: KubeObject[] | null; metadata?: { resourceVersion?: string } };
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '0' };
    }, signal);
  }

  watchObjects(
    path: string,
    options: { resourceVersion: string; labelSelector?: string },
    onEvent: (event: WatchEvent<KubeObject>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const query: Record<string, string | boolean> = { resourceVersion: options.resourceVersion, allowWatchBookmarks: true };
    if (options.labelSelector) query['labelSelector'] = options.labelSelector;
    return runWatch(new this.k8s.Watch(this.kubeConfig), path, query, onEvent, signal);
  }

  private urlOf(path: string): URL {
    // The server keeps kas's path prefix (/k8s-proxy/); the API path goes after it.
    return new URL(`${this.kubeConfig.getCurrentCluster()?.server ?? ''}${path}`);
  }

  async streamLogs(namespace: string, pod: string, options: LogOptions): Promise<Readable> {
    const url = this.urlOf(`/api/v1/namespaces/${enc(namespace)}/pods/${enc(pod)}/log`);
    if (options.container) url.searchParams.set('container', options.container);
    if (options.follow) url.searchParams.set('follow', 'true');
    if (options.tailLines !== undefined) url.searchParams.set('tailLines', String(options.tailLines));
    if (options.timestamps) url.searchParams.set('timestamps', 'true');
    if (options.previous) url.searchParams.set('previous', 'true');
    return mapped(async () => {
      const init = await this.kubeConfig.applyToFetchOptions({});
      const response = await fetch(url.toString(), { ...init, method: 'GET', signal: options.signal as never });
      if (response.status !== 200) {
        response.body.resume();
        throw new KasClientError(statusFailure(response.status, response.headers), response.status);
      }
      return response.body as Readable;
    }, options.signal);
  }

  /** Per-call options that only carry an abort signal into the request context. */
  private withSignal(signal: AbortSignal | undefined): ConfigurationOptions | undefined {
    if (!signal) return undefined;
    const { Observable } = this.k8s;
    const carrySignal: ObservableMiddleware = {
      pre: (context) => {
        context.setSignal(signal);
        return new Observable(Promise.resolve(context));
      },
      post: (response) => new Observable(Promise.resolve(response)),
    };
    return { middleware: [carrySignal], middlewareMergeStrategy: 'append' };
  }
}

/**
 * client-node's callback-style Watch as a promise: resolves when the server ends the stream,
 * rejects with a code otherwise. An ERROR event (410 Gone above all) ends the watch with that code.
 */
function runWatch(
  watch: Watch,
  path: string,
  query: Record<string, string | boolean>,
  onEvent: (event: WatchEvent<KubeObject>) => void,
  signal: AbortSignal,
): Promise<void> {
  let controller: AbortController | undefined;
  let failure: KasClientError | undefined;
  const abort = () => controller?.abort();
  return new Promise<void>((resolve, reject) => {
    const done = (error: unknown) => {
      signal.removeEventListener('abort', abort);
      const reason = failure ?? (error ? toKasClientError(error, signal) : undefined);
      if (reason) reject(reason);
      else resolve();
    };
    const onWatchEvent = (type: string, object: unknown) => {
      if (failure) return;
      if (type === 'ERROR') {
        failure = new KasClientError(statusCodeOf(object) === 410 ? 'GONE' : 'SERVER_ERROR', statusCodeOf(object));
        abort();
      } else if (isObjectEvent(type, object)) {
        onEvent({ type, object: object as KubeObject });
      }
    };
    signal.addEventListener('abort', abort);
    watch.watch(path, query, onWatchEvent, done).then((started) => {
      controller = started;
      if (signal.aborted) started.abort();
    }, done);
  });
}

function statusFailure(status: number, headers: { get(name: string): string | null }) {
  return codeForStatus(
    status,
    kasRefusedCredentials((name) => headers.get(name)),
  );
}

function statusCodeOf(object: unknown): number | undefined {
  const code = (object as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

const EVENT_TYPES = new Set<string>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);

function isObjectEvent(type: string, object: unknown): type is Exclude<WatchEventType, 'ERROR'> {
  return EVENT_TYPES.has(type) && typeof object === 'object' && object !== null;
}
