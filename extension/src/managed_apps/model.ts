// The managed-apps model (no vscode import): installs, upgrades and uninstalls catalog apps
// with one-off helm pods, and keeps each app's state from two watches (pods and ConfigMaps in
// gitlab-managed-apps). Everything is derived from the cluster, so a fresh instance (after a
// VS Code reload) sees exactly what the previous one saw, mid-install included.
//
// On success the model copies the helm pod's log into ConfigMap `install-log-<app>`, records
// the release on the values ConfigMap (or deletes it after an uninstall), then deletes the pod.
// A failed pod stays, for its logs; its log is copied too, so it outlives a later cleanup.
import type { Informer as ClientInformer, KubernetesObject, ObjectCache, V1ConfigMap, V1Pod } from '@kubernetes/client-node' with {
  'resolution-mode': 'import',
};
import type { LogTarget } from '../../../webviews/logview/messages';
import { bundledCatalog, catalogApp, type Catalog, type CatalogApp } from './catalog';
import { ManagedAppsError } from './errors';
import { clusterError, loadClientNode, statusOf, unlessNotFound, type ClientNode, type CoreV1Api, type KubeConfig } from './kube';
import { helmPod, valuesConfigMap } from './manifests';
import {
  APP_LABEL,
  LOG_ACTION_ANNOTATION,
  MANAGED_APPS_NAMESPACE,
  RELEASE_STATE_ANNOTATION,
  RELEASE_VERSION_ANNOTATION,
  actionOfLabel,
  logConfigMapName,
  podName,
  releaseName,
  valuesConfigMapName,
  type AppAction,
} from './names';
import {
  BUSY_STATES,
  HELM_POD_TIMEOUT_MS,
  deriveAppState,
  isHelmPodActive,
  type AppFacts,
  type AppState,
  type HelmPodFacts,
  type PodPhase,
} from './state';
import { parseHelmValues } from './values';

const NS = MANAGED_APPS_NAMESPACE;
const HELM_CONTAINER = 'helm';
const WATCH_RETRY_MS = 1000;
const POD_GONE_WAIT_MS = 15_000;
const CACHE_WAIT_MS = 5000;

export interface AppStatus {
  app: string;
  title: string;
  state: AppState;
  /** The helm pod, while one exists. */
  podName: string | undefined;
  /** The chart version recorded by the last successful install or upgrade. */
  installedVersion: string | undefined;
}

export interface AppLog {
  /** `pod`: read from the helm pod now; `saved`: the copy kept after the pod ended. */
  source: 'pod' | 'saved';
  action: AppAction | undefined;
  text: string;
}

export interface ManagedAppsModelOptions {
  catalog?: Catalog;
  timeoutMs?: number;
  now?: () => number;
  /** Background failures (a watch that broke, a cleanup that failed); the model keeps going. */
  onBackgroundError?: (error: ManagedAppsError) => void;
}

type Informer<T extends KubernetesObject> = ClientInformer<T> & ObjectCache<T>;

export class ManagedAppsModel {
  private readonly catalog: Catalog;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly listeners = new Set<(apps: AppStatus[]) => void>();
  private readonly finishing = new Set<string>();
  private pods: Informer<V1Pod> | undefined;
  private configMaps: Informer<V1ConfigMap> | undefined;
  private lastSnapshot = '';
  private timeoutTimer: NodeJS.Timeout | undefined;
  private retryTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  private constructor(
    private readonly k8s: ClientNode,
    private readonly kubeConfig: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly options: ManagedAppsModelOptions,
  ) {
    this.catalog = options.catalog ?? bundledCatalog();
    this.timeoutMs = options.timeoutMs ?? HELM_POD_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  static async create(kubeConfig: KubeConfig, options: ManagedAppsModelOptions = {}): Promise<ManagedAppsModel> {
    const k8s = await loadClientNode();
    return new ManagedAppsModel(k8s, kubeConfig, kubeConfig.makeApiClient(k8s.CoreV1Api), options);
  }

  // --- watching ------------------------------------------------------------------------------

  /** Starts both watches; resolves once the first lists are in (the state is then known). */
  async start(): Promise<void> {
    const podsPath = `/api/v1/namespaces/${NS}/pods`;
    const mapsPath = `/api/v1/namespaces/${NS}/configmaps`;
    this.pods = this.startInformer<V1Pod>(
      podsPath,
      () => this.core.listNamespacedPod({ namespace: NS }),
      undefined,
      (pod) => this.onPod(pod),
    );
    this.configMaps = this.startInformer<V1ConfigMap>(
      mapsPath,
      () => this.core.listNamespacedConfigMap({ namespace: NS, labelSelector: APP_LABEL }),
      APP_LABEL,
      () => undefined,
    );
    try {
      await Promise.all([startOrThrow(this.pods), startOrThrow(this.configMaps)]);
    } catch (error) {
      await this.stop();
      throw clusterError(`listing ${NS}`, error);
    }
    this.keepWatching(this.pods, podsPath);
    this.keepWatching(this.configMaps, mapsPath);
    this.changed();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timeoutTimer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await Promise.all([this.pods?.stop(), this.configMaps?.stop()]);
  }

  private startInformer<T extends KubernetesObject>(
    path: string,
    list: () => Promise<{ items: T[] }>,
    labelSelector: string | undefined,
    onObject: (object: T) => void,
  ): Informer<T> {
    const informer = this.k8s.makeInformer<T>(this.kubeConfig, path, list as never, labelSelector);
    const onChange = (object: T) => {
      onObject(object);
      this.changed();
    };
    informer.on('add', onChange);
    informer.on('update', onChange);
    informer.on('delete', () => {
      this.changed();
    });
    return informer;
  }

  private keepWatching<T extends KubernetesObject>(informer: Informer<T>, path: string): void {
    informer.on('error', (error: unknown) => this.restartLater(informer, path, error));
  }

  /** client-node's informer stops on errors (not on the server ending a watch): start again. */
  private restartLater<T extends KubernetesObject>(informer: Informer<T>, path: string, error: unknown): void {
    if (this.stopped) return;
    this.reportBackground(clusterError(`watching ${path}`, error));
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (!this.stopped) informer.start().catch((retryError: unknown) => this.restartLater(informer, path, retryError));
    }, WATCH_RETRY_MS);
    this.retryTimers.add(timer);
  }

  onDidChange(listener: (apps: AppStatus[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    if (this.stopped) return;
    const apps = this.apps();
    this.scheduleTimeoutCheck();
    const snapshot = JSON.stringify(apps);
    if (snapshot === this.lastSnapshot) return;
    this.lastSnapshot = snapshot;
    for (const listener of this.listeners) listener(apps);
  }

  /** Wakes up when the next running helm pod reaches its timeout, so `errored` shows on time. */
  private scheduleTimeoutCheck(): void {
    clearTimeout(this.timeoutTimer);
    const now = this.now();
    const deadlines = this.apps()
      .map((status) => this.helmPodFacts(status.app))
      .filter((pod): pod is HelmPodFacts => pod !== undefined && isHelmPodActive(pod, now, this.timeoutMs))
      .map((pod) => pod.createdAt + this.timeoutMs);
    if (deadlines.length === 0) return;
    this.timeoutTimer = setTimeout(() => this.changed(), Math.max(0, Math.min(...deadlines) - now) + 10);
  }

  // --- state -----------------------------------------------------------------------------------

  /**
   * The catalog's apps, then any other app a helm pod here is labelled with (installed by
   * another tool or version): shown with its state, though only catalog apps can be changed.
   */
  apps(): AppStatus[] {
    const others = new Set<string>();
    for (const pod of this.pods?.list() ?? []) {
      const app = pod.metadata?.labels?.[APP_LABEL];
      if (app && !this.catalog.has(app) && pod.metadata?.name === podName(app, podFacts(pod).action)) others.add(app);
    }
    return [
      ...[...this.catalog.values()].map((app) => this.status(app.name, app.title)),
      ...[...others].sort().map((app) => this.status(app, app)),
    ];
  }

  /** Throws UNKNOWN_APP for an app neither in the catalog nor on a helm pod here. */
  state(appName: string): AppState {
    return this.shownApp(appName).state;
  }

  private shownApp(appName: string): AppStatus {
    return this.apps().find((a) => a.app === appName) ?? this.status(catalogApp(this.catalog, appName).name, '');
  }

  private status(app: string, title: string): AppStatus {
    const pod = this.helmPod(app);
    const values = this.valuesConfigMap(app);
    return {
      app,
      title,
      state: deriveAppState(this.facts(app), this.now(), this.timeoutMs),
      podName: pod?.metadata?.name,
      installedVersion: values?.metadata?.annotations?.[RELEASE_VERSION_ANNOTATION],
    };
  }

  private facts(app: string): AppFacts {
    const marker = this.valuesConfigMap(app)?.metadata?.annotations?.[RELEASE_STATE_ANNOTATION];
    return {
      pod: this.helmPodFacts(app),
      release: marker === 'installed' || marker === 'updated' ? marker : undefined,
      externallyInstalled: this.releasePodsExist(app),
    };
  }

  /** The app's helm pod (install/update or uninstall); the newest if both exist. */
  private helmPod(app: string): V1Pod | undefined {
    const names = new Set([podName(app, 'install'), podName(app, 'uninstall')]);
    const candidates = (this.pods?.list() ?? []).filter(
      (pod) => names.has(pod.metadata?.name ?? '') && pod.metadata?.labels?.[APP_LABEL] === app,
    );
    return candidates.sort((a, b) => createdAt(b) - createdAt(a))[0];
  }

  private helmPodFacts(app: string): HelmPodFacts | undefined {
    const pod = this.helmPod(app);
    return pod ? podFacts(pod) : undefined;
  }

  private valuesConfigMap(app: string): V1ConfigMap | undefined {
    return this.configMaps?.list().find((map) => map.metadata?.name === valuesConfigMapName(app));
  }

  /** Pods that helm labelled with this release, other than our own helm pods. */
  private releasePodsExist(app: string): boolean {
    const release = releaseName(app);
    return (this.pods?.list() ?? []).some((pod) => {
      const labels = pod.metadata?.labels ?? {};
      return !labels[APP_LABEL] && (labels['app.kubernetes.io/instance'] === release || labels.release === release);
    });
  }

  // --- install, upgrade, uninstall ---------------------------------------------------------------

  /** The values to offer for editing: the installed ones, else the catalog's defaults. */
  currentValues(appName: string): string {
    const app = catalogApp(this.catalog, appName);
    return this.valuesConfigMap(app.name)?.data?.['values.yaml'] ?? app.values;
  }

  /** Installs the app, or upgrades it when it is already installed; resolves with the helm pod's log target. */
  async install(appName: string, valuesText?: string): Promise<LogTarget> {
    const app = catalogApp(this.catalog, appName);
    const values = valuesText ?? this.currentValues(app.name);
    parseHelmValues(values);
    await this.refuseIfBusy(app.name);
    const existing = await this.readValuesConfigMap(app.name);
    const installed = existing?.metadata?.annotations?.[RELEASE_STATE_ANNOTATION] !== undefined;
    await this.ensureNamespace();
    await this.removeFinishedPods(app.name);
    await this.writeValuesConfigMap(valuesConfigMap(app, values, existing?.metadata?.annotations), existing !== undefined);
    return this.createHelmPod(app, installed ? 'update' : 'install');
  }

  /** Uninstalls the app; resolves with the helm pod's log target. */
  async uninstall(appName: string): Promise<LogTarget> {
    const app = catalogApp(this.catalog, appName);
    await this.refuseIfBusy(app.name);
    if (this.state(app.name) === 'installable') throw new ManagedAppsError('NOT_INSTALLED', `${app.title} is not installed`);
    await this.removeFinishedPods(app.name);
    return this.createHelmPod(app, 'uninstall');
  }

  /** Decided from the cluster, not the cache: another window may have just started one. */
  private async refuseIfBusy(app: string): Promise<void> {
    for (const action of ['install', 'uninstall'] as const) {
      const pod = await this.call(`reading pod ${podName(app, action)}`, () =>
        unlessNotFound(() => this.core.readNamespacedPod({ namespace: NS, name: podName(app, action) })),
      );
      if (pod && isHelmPodActive(podFacts(pod), this.now(), this.timeoutMs)) {
        const doing = podFacts(pod).action === 'uninstall' ? 'being uninstalled' : 'being installed';
        throw new ManagedAppsError('APP_BUSY', `${app} is already ${doing} (pod ${NS}/${pod.metadata?.name}); wait until it finishes`);
      }
    }
  }

  private async ensureNamespace(): Promise<void> {
    try {
      await this.core.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } });
    } catch (error) {
      if (statusOf(error) !== 409) throw clusterError(`creating namespace ${NS}`, error);
    }
  }

  /**
   * An earlier helm pod holds the name. A succeeded one is finished first (log saved, release
   * recorded), as the watch would have done a moment later; a failed or timed-out one is deleted.
   */
  private async removeFinishedPods(app: string): Promise<void> {
    for (const action of ['install', 'uninstall'] as const) {
      const name = podName(app, action);
      const pod = await this.call(`reading pod ${name}`, () => unlessNotFound(() => this.core.readNamespacedPod({ namespace: NS, name })));
      if (!pod) continue;
      const facts = podFacts(pod);
      if (facts.phase === 'Succeeded') await this.call(`finishing ${name}`, () => this.finish(app, pod, facts));
      else
        await this.call(`deleting pod ${name}`, () =>
          unlessNotFound(() => this.core.deleteNamespacedPod({ namespace: NS, name, gracePeriodSeconds: 0 })),
        );
      await this.waitUntilPodGone(name);
    }
  }

  private async waitUntilPodGone(name: string): Promise<void> {
    const deadline = Date.now() + POD_GONE_WAIT_MS;
    while (Date.now() < deadline) {
      const pod = await this.call(`reading pod ${name}`, () => unlessNotFound(() => this.core.readNamespacedPod({ namespace: NS, name })));
      if (!pod) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new ManagedAppsError('CLUSTER_ERROR', `pod ${NS}/${name} from an earlier run is still being deleted; try again shortly`);
  }

  private async readValuesConfigMap(app: string): Promise<V1ConfigMap | undefined> {
    const name = valuesConfigMapName(app);
    return this.call(`reading ConfigMap ${name}`, () => unlessNotFound(() => this.core.readNamespacedConfigMap({ namespace: NS, name })));
  }

  private async writeValuesConfigMap(body: ReturnType<typeof valuesConfigMap>, exists: boolean): Promise<void> {
    const name = body.metadata.name;
    await this.call(`writing ConfigMap ${name}`, () =>
      exists
        ? this.core.replaceNamespacedConfigMap({ namespace: NS, name, body })
        : this.core.createNamespacedConfigMap({ namespace: NS, body }),
    );
  }

  private async createHelmPod(app: CatalogApp, action: AppAction): Promise<LogTarget> {
    const body = helmPod(app, action);
    try {
      await this.core.createNamespacedPod({ namespace: NS, body: body as V1Pod });
      return { namespace: NS, pod: podName(app.name, action), container: HELM_CONTAINER };
    } catch (error) {
      // Two windows raced past refuseIfBusy: the pod name decides who won.
      if (statusOf(error) === 409)
        throw new ManagedAppsError(
          'APP_BUSY',
          `${app.name} is already being installed or uninstalled (pod ${podName(app.name, action)} exists)`,
        );
      throw clusterError(`creating pod ${podName(app.name, action)}`, error);
    }
  }

  // --- when a helm pod ends --------------------------------------------------------------------

  private onPod(pod: V1Pod): void {
    const app = pod.metadata?.labels?.[APP_LABEL];
    const facts = podFacts(pod);
    if (!app || !this.catalog.has(app) || pod.metadata?.name !== podName(app, facts.action)) return;
    if (facts.phase !== 'Succeeded' && facts.phase !== 'Failed') return;
    const key = pod.metadata.uid ?? pod.metadata.name;
    if (this.finishing.has(key)) return;
    this.finishing.add(key);
    this.finish(app, pod, facts)
      .catch((error: unknown) => this.reportBackground(clusterError(`finishing ${pod.metadata?.name}`, error)))
      .finally(() => this.finishing.delete(key));
  }

  private async finish(app: string, pod: V1Pod, facts: HelmPodFacts): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const log = await unlessNotFound(() => this.core.readNamespacedPodLog({ namespace: NS, name, container: HELM_CONTAINER }));
    if (log === undefined) return; // already finished by another instance
    await this.saveLog(app, facts.action, log);
    if (facts.phase !== 'Succeeded') return;
    await this.recordRelease(app, facts.action);
    // The two watches are separate streams: had the pod's deletion arrived before the release
    // record, the app would flash `installable` in between.
    await this.untilCached(() => (this.facts(app).release !== undefined) === (facts.action !== 'uninstall'));
    await unlessNotFound(() => this.core.deleteNamespacedPod({ namespace: NS, name }));
  }

  private async untilCached(check: () => boolean): Promise<void> {
    const deadline = Date.now() + CACHE_WAIT_MS;
    while (!check() && !this.stopped && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  private async saveLog(app: string, action: AppAction, log: string): Promise<void> {
    const name = logConfigMapName(app);
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: NS, labels: { [APP_LABEL]: app }, annotations: { [LOG_ACTION_ANNOTATION]: action } },
      data: { log },
    };
    const replaced = await unlessNotFound(() => this.core.replaceNamespacedConfigMap({ namespace: NS, name, body }));
    if (!replaced) await this.core.createNamespacedConfigMap({ namespace: NS, body });
  }

  private async recordRelease(app: string, action: AppAction): Promise<void> {
    const name = valuesConfigMapName(app);
    if (action === 'uninstall') {
      await unlessNotFound(() => this.core.deleteNamespacedConfigMap({ namespace: NS, name }));
      return;
    }
    const current = await unlessNotFound(() => this.core.readNamespacedConfigMap({ namespace: NS, name }));
    if (!current?.metadata) return;
    current.metadata.annotations = {
      ...current.metadata.annotations,
      [RELEASE_STATE_ANNOTATION]: action === 'update' ? 'updated' : 'installed',
      [RELEASE_VERSION_ANNOTATION]: current.data?.version ?? '',
    };
    await this.core.replaceNamespacedConfigMap({ namespace: NS, name, body: current });
  }

  // --- logs ------------------------------------------------------------------------------------

  /** Where to stream the live log from (the log view's LogSession takes this), while the pod exists. */
  logTarget(appName: string): LogTarget | undefined {
    const pod = this.helmPod(this.shownApp(appName).app);
    return pod?.metadata?.name ? { namespace: NS, pod: pod.metadata.name, container: HELM_CONTAINER } : undefined;
  }

  /** The helm log: from the pod while it exists, else the copy saved when it ended. */
  async readLog(appName: string): Promise<AppLog | undefined> {
    const app = this.shownApp(appName).app;
    const pod = this.helmPod(app);
    if (pod?.metadata?.name) {
      const name = pod.metadata.name;
      const text = await this.call(`reading the log of ${name}`, () =>
        unlessNotFound(() => this.core.readNamespacedPodLog({ namespace: NS, name, container: HELM_CONTAINER })),
      );
      if (text !== undefined) return { source: 'pod', action: podFacts(pod).action, text };
    }
    const saved = await this.call(`reading ConfigMap ${logConfigMapName(app)}`, () =>
      unlessNotFound(() => this.core.readNamespacedConfigMap({ namespace: NS, name: logConfigMapName(app) })),
    );
    if (saved?.data?.log === undefined) return undefined;
    return { source: 'saved', action: actionOfLabel(saved.metadata?.annotations?.[LOG_ACTION_ANNOTATION]), text: saved.data.log };
  }

  isBusy(appName: string): boolean {
    return BUSY_STATES.has(this.state(appName));
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw clusterError(what, error);
    }
  }

  private reportBackground(error: ManagedAppsError): void {
    this.options.onBackgroundError?.(error);
  }
}

/** client-node's informer reports a failed first list as an event, not a rejection. */
async function startOrThrow<T extends KubernetesObject>(informer: Informer<T>): Promise<void> {
  let failure: unknown;
  const onError = (error: unknown) => {
    failure ??= error ?? new Error('watch failed');
  };
  informer.on('error', onError);
  try {
    await informer.start();
  } finally {
    informer.off('error', onError);
  }
  if (failure !== undefined) throw failure;
}

function createdAt(pod: V1Pod): number {
  const stamp = pod.metadata?.creationTimestamp;
  return stamp ? new Date(stamp).getTime() : 0;
}

function podFacts(pod: V1Pod): HelmPodFacts {
  const action =
    actionOfLabel(pod.metadata?.labels?.['gitlab.org/action']) ?? (pod.metadata?.name?.startsWith('uninstall-') ? 'uninstall' : 'install');
  return { action, phase: pod.status?.phase as PodPhase | undefined, createdAt: createdAt(pod) };
}
