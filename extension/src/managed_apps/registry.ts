// One ManagedAppsModel per (connection, agent), started in the background the first time the
// view asks. The view reads snapshots only (`view()` never waits for the cluster); commands
// get the started model with `model()`.
import type { KubeConfig } from './kube';
import { ManagedAppsModel, type AppStatus, type ManagedAppsModelOptions } from './model';
import type { ManagedAppsError } from './errors';

export type AppsView = { state: 'loading' } | { state: 'ready'; apps: AppStatus[] } | { state: 'error'; error: unknown };

export interface ManagedAppsRegistryOptions {
  kubeConfigFor(connectionId: string, agentId: string): Promise<KubeConfig>;
  /** Something the view shows changed (a state, a model finished loading or failed). */
  onChange(): void;
  onBackgroundError?(error: ManagedAppsError): void;
  /** Model options (a test catalog, a short timeout). */
  modelOptions?: Omit<ManagedAppsModelOptions, 'onBackgroundError'>;
}

interface Entry {
  ready: Promise<ManagedAppsModel>;
  model?: ManagedAppsModel;
  error?: unknown;
}

export class ManagedAppsRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: ManagedAppsRegistryOptions) {}

  /** What the view shows now; starts the model in the background on first use. */
  view(connectionId: string, agentId: string): AppsView {
    const entry = this.entry(connectionId, agentId);
    if (entry.model) return { state: 'ready', apps: entry.model.apps() };
    if (entry.error !== undefined) return { state: 'error', error: entry.error };
    return { state: 'loading' };
  }

  /** The started model, for commands; rejects with the start failure (and forgets it, so a retry starts again). */
  model(connectionId: string, agentId: string): Promise<ManagedAppsModel> {
    return this.entry(connectionId, agentId).ready;
  }

  /** Stops the models of connections that are gone (removed in the Agents view). */
  async retainConnections(connectionIds: ReadonlySet<string>): Promise<void> {
    const gone = [...this.entries.entries()].filter(([key]) => !connectionIds.has(key.split('\u0000')[0] ?? ''));
    for (const [key] of gone) this.entries.delete(key);
    await Promise.all(gone.map(([, entry]) => entry.model?.stop() ?? Promise.resolve()));
  }

  /** Stops and forgets every model (the extension deactivates). */
  async dispose(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((entry) => entry.model?.stop() ?? Promise.resolve()));
  }

  private entry(connectionId: string, agentId: string): Entry {
    const key = `${connectionId}\u0000${agentId}`;
    let entry = this.entries.get(key);
    if (entry) return entry;
    const created: Entry = { ready: this.startModel(connectionId, agentId) };
    created.ready.then(
      (model) => {
        created.model = model;
        this.options.onChange();
      },
      (error: unknown) => {
        created.error = error;
        // Forget it after showing the error once, so the next look starts again.
        setTimeout(() => this.entries.get(key) === created && this.entries.delete(key), 5000).unref();
        this.options.onChange();
      },
    );
    this.entries.set(key, created);
    entry = created;
    return entry;
  }

  private async startModel(connectionId: string, agentId: string): Promise<ManagedAppsModel> {
    const kubeConfig = await this.options.kubeConfigFor(connectionId, agentId);
    const model = await ManagedAppsModel.create(kubeConfig, {
      ...this.options.modelOptions,
      onBackgroundError: this.options.onBackgroundError,
    });
    model.onDidChange(() => this.options.onChange());
    try {
      await model.start();
    } catch (error) {
      await model.stop();
      throw error;
    }
    return model;
  }
}
