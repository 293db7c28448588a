// The dashboard's extension side without VS Code: watches the chosen namespace through the
// DashboardSource and posts snapshots, deltas, the drawer's detail and events; polls kas for
// the agent's health (replicas, config, tunnel figures) and turns failures into the page's
// states, which clear by themselves when a later poll or the watch succeeds. All cluster and
// kas calls run in the background; nothing here is awaited on the UI path.
import type { TunnelFiguresView } from '../../../agent/shared/kas_api';
import type {
  AgentHealth,
  DashboardState,
  ExtensionToWebview,
  ManagedAppRow,
  ResourceKind,
  ResourceRef,
  WebviewToExtension,
} from '../../../webviews/dashboard/messages';
import { KasClientError, userMessage } from '../kas_client/errors';
import type { AgentInfo } from '../kas_client/kas_api';
import { RowDiffer } from './row_differ';
import type { DashboardSource, NamespaceWatch } from './source';
import { detailOf, eventRow } from './summarise';

export interface DashboardControllerDeps {
  agentId: string;
  agentName: string;
  source: DashboardSource;
  /** The agent as kas's REST API reports it (undefined: kas no longer knows it). */
  agent(signal: AbortSignal): Promise<AgentInfo | undefined>;
  figures(signal: AbortSignal): Promise<TunnelFiguresView>;
  /** Managed apps states; null when the agent has none to show. */
  apps?(): ManagedAppRow[] | null;
  post(message: ExtensionToWebview): void;
  namespace?: string;
  /** How often kas is asked for the agent's health (faster while something is wrong). */
  healthPollMs?: { ok: number; failing: number };
}

const DEFAULT_POLL = { ok: 5_000, failing: 2_000 };
type Problem = { state: Exclude<DashboardState, 'live' | 'loading'>; detail: string } | undefined;

export class DashboardController {
  private namespace: string;
  private namespaces: string[] = [];
  private watch: NamespaceWatch | undefined;
  private differs = new Map<ResourceKind, RowDiffer>();
  private detailRef: ResourceRef | undefined;
  private stopEvents: (() => void) | undefined;
  /** The detail last posted: an unchanged object is not sent again. */
  private lastDetailObject: unknown;
  private healthProblem: Problem;
  private shownState = '';
  private pollTimer: NodeJS.Timeout | undefined;
  private stopNamespaces: (() => void) | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly deps: DashboardControllerDeps) {
    this.namespace = deps.namespace ?? 'default';
  }

  start(): void {
    this.watchNamespace(this.namespace);
    this.stopNamespaces = this.deps.source.watchNamespaces((namespaces) => this.namespacesChanged(namespaces));
    this.pollHealth();
    this.postApps();
  }

  /** What the page asked; actions and links are the panel's (they need VS Code). */
  handle(message: WebviewToExtension): void {
    switch (message.type) {
      case 'selectNamespace':
        if (message.namespace !== this.namespace) this.watchNamespace(message.namespace);
        break;
      case 'openDetail':
        this.openDetail(message.ref);
        break;
      case 'closeDetail':
        this.closeDetail();
        break;
      default:
        break;
    }
  }

  /** The object behind a row, for the panel's actions (YAML, delete). */
  objectOf(ref: ResourceRef): unknown {
    return this.differs.get(ref.kind)?.object(ref.uid);
  }

  postApps(): void {
    if (this.deps.apps) this.deps.post({ type: 'apps', apps: this.deps.apps() });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.pollTimer);
    this.stopNamespaces?.();
    this.closeDetail();
    await this.watch?.stop();
  }

  private watchNamespace(namespace: string): void {
    const previous = this.watch;
    void previous?.stop(); // never rejects: a feed's stop only awaits its loop
    this.closeDetail();
    this.namespace = namespace;
    const { post, agentName, source } = this.deps;
    const namespaces = this.namespaces.includes(namespace) ? this.namespaces : [namespace, ...this.namespaces];
    post({ type: 'init', agentName, namespaces, namespace, kinds: [...source.kinds] });
    this.differs = new Map(source.kinds.map((kind) => [kind, new RowDiffer(kind)]));
    this.watch = source.watch(namespace, (kind) => this.kindChanged(kind));
    this.shownState = ''; // the page was reset: tell it the state again
    this.showState();
  }

  private kindChanged(kind: ResourceKind): void {
    const watch = this.watch;
    const differ = this.differs.get(kind);
    if (!watch || !differ) return;
    const { state } = watch.state(kind);
    if (state === 'loading') return;
    this.showState();
    if (state === 'error') return;
    const update = differ.update(watch.objects(kind));
    if (update) this.deps.post(update);
    if (this.detailRef?.kind === kind) this.postDetail();
  }

  private openDetail(ref: ResourceRef): void {
    this.closeDetail();
    this.detailRef = ref;
    this.postDetail();
    const { watchEvents } = this.deps.source;
    if (!watchEvents) {
      this.deps.post({ type: 'events', uid: ref.uid, events: [], live: false });
      return;
    }
    this.stopEvents = watchEvents(ref.namespace, ref.uid, (events) =>
      this.deps.post({ type: 'events', uid: ref.uid, events: events.map(eventRow).sort((a, b) => a.lastSeen - b.lastSeen), live: true }),
    );
  }

  private postDetail(): void {
    const ref = this.detailRef;
    const object = ref && this.differs.get(ref.kind)?.object(ref.uid);
    if (!ref || !object || object === this.lastDetailObject) return;
    this.lastDetailObject = object;
    this.deps.post({ type: 'detail', detail: detailOf(ref.kind, object) });
  }

  private closeDetail(): void {
    this.stopEvents?.();
    this.stopEvents = undefined;
    this.detailRef = undefined;
    this.lastDetailObject = undefined;
  }

  /** The picker follows namespaces created and deleted; the one shown stays in it even when gone. */
  private namespacesChanged(namespaces: string[]): void {
    this.namespaces = namespaces;
    const list = namespaces.includes(this.namespace) ? namespaces : [this.namespace, ...namespaces];
    this.deps.post({ type: 'namespaces', namespaces: list, namespace: this.namespace });
  }

  private pollHealth(): void {
    const poll = this.deps.healthPollMs ?? DEFAULT_POLL;
    this.readHealth().then(
      () => {
        if (this.abort.signal.aborted) return;
        this.pollTimer = setTimeout(() => this.pollHealth(), this.healthProblem ? poll.failing : poll.ok);
      },
      () => undefined,
    );
  }

  /** Never rejects: a failure becomes the page's state until a later poll succeeds. */
  private async readHealth(): Promise<void> {
    const signal = this.abort.signal;
    try {
      const agent = await this.deps.agent(signal);
      if (!agent) {
        this.healthProblem = { state: 'error', detail: `kas knows no agent ${this.deps.agentName} (any more)` };
      } else {
        const figures = await this.deps.figures(signal).catch((error: unknown) => {
          if (error instanceof KasClientError && error.code === 'NOT_FOUND') return undefined; // a kas without the endpoint
          throw error;
        });
        this.deps.post({ type: 'health', health: healthOf(this.deps.agentId, agent, figures) });
        this.healthProblem =
          agent.connections.length === 0 ? { state: 'agentNotConnected', detail: 'no agentk replica is connected to kas' } : undefined;
      }
    } catch (error) {
      if (signal.aborted) return;
      this.healthProblem = problemOf(error);
    }
    this.showState();
    this.postApps();
  }

  private showState(): void {
    if (this.abort.signal.aborted) return;
    const problem = this.healthProblem ?? this.feedProblem();
    const anyListed = [...this.differs.keys()].some((kind) => this.watch?.state(kind).state === 'live');
    const message: ExtensionToWebview = problem
      ? { type: 'state', ...problem }
      : { type: 'state', state: anyListed ? 'live' : 'loading', detail: '' };
    const key = `${message.state}\u0000${message.detail}`;
    if (key === this.shownState) return;
    this.shownState = key;
    this.deps.post(message);
  }

  /** The first kind that cannot be read, as long as it cannot: one failing kind is not hidden by the others' news. */
  private feedProblem(): Problem {
    for (const kind of this.differs.keys()) {
      const { state, error } = this.watch?.state(kind) ?? { state: 'stopped' };
      if (state !== 'error') continue;
      const problem = problemOf(error)!;
      return problem.state === 'error' ? { ...problem, detail: `${kind}: ${problem.detail}` } : problem;
    }
    return undefined;
  }
}

function problemOf(error: unknown): Problem {
  const code = error instanceof KasClientError ? error.code : undefined;
  if (code === 'UNREACHABLE' || code === 'TIMEOUT' || code === 'TLS_ERROR') return { state: 'kasUnreachable', detail: userMessage(error) };
  if (code === 'AGENT_NOT_CONNECTED') return { state: 'agentNotConnected', detail: userMessage(error) };
  return { state: 'error', detail: userMessage(error) };
}

function healthOf(agentId: string, agent: AgentInfo, figures: TunnelFiguresView | undefined): AgentHealth {
  const first = agent.config.errors[0] as (AgentInfo['config']['errors'][number] & { file?: string }) | undefined;
  return {
    agentId,
    agentName: agent.name,
    connections: agent.connections,
    config: {
      commit: agent.config.commit,
      valid: agent.config.valid,
      firstError: first && {
        message: first.message,
        file: first.file ?? `.gitlab/agents/${agent.name}/config.yaml`,
        line: first.line,
        column: first.column,
      },
    },
    figures,
  };
}
