// The read-only virtual documents of the `k8s-agent:` scheme: an object as YAML, its Describe
// summary, and events (of a namespace or of one object). Each open document keeps a watch
// (LiveList) and fires onDidChange when its text changes; closing the document stops it. A
// second scheme holds the texts of an apply diff (live side and dry-run side).
import * as vscode from 'vscode';
import { userMessage } from '../kas_client/errors';
import type { Services } from '../services';
import { describeText, eventsText, objectYaml } from './describe';
import { LiveList } from './live_list';
import { ResourceApi, type KubeObject } from './resource_api';
import { involvedObjectSelector } from './resource_actions';
import { DOCUMENT_SCHEME, documentPath, parseDocumentPath, refLabel, type DocumentView, type ResourceRef } from './resource_ref';

export const DIFF_SCHEME = 'k8s-agent-diff';

export async function resourceApiFor(services: Services, ref: Pick<ResourceRef, 'connectionId' | 'agentId'>): Promise<ResourceApi> {
  const session = await services.sessions.get(ref.connectionId);
  return new ResourceApi(session.kubeconfigParts(ref.agentId));
}

export function documentUri(ref: ResourceRef, view: DocumentView): vscode.Uri {
  const { path, query } = documentPath(ref, view);
  return vscode.Uri.from({ scheme: DOCUMENT_SCHEME, path, query });
}

interface OpenDocument {
  text?: string;
  lists: LiveList[];
  ready: Promise<void>;
}

export class ResourceDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly open = new Map<string, OpenDocument>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly services: Services) {
    this.subscriptions = [
      vscode.workspace.registerTextDocumentContentProvider(DOCUMENT_SCHEME, this),
      vscode.workspace.onDidCloseTextDocument((document) => this.stop(document.uri.toString())),
      this.changed,
    ];
  }

  /** The object's YAML as the document shows it now (for Copy YAML and Edit), when open. */
  textOf(uri: vscode.Uri): string | undefined {
    return this.open.get(uri.toString())?.text;
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const key = uri.toString();
    let document = this.open.get(key);
    if (!document) {
      document = this.start(uri);
      this.open.set(key, document);
    }
    await document.ready;
    return document.text ?? '';
  }

  private start(uri: vscode.Uri): OpenDocument {
    const parsed = parseDocumentPath(uri.path, uri.query);
    if (!parsed) return { text: 'This is not a Kubernetes object address.\n', lists: [], ready: Promise.resolve() };
    const { ref, view } = parsed;
    const apiPromise = resourceApiFor(this.services, ref);
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const document: OpenDocument = { lists: [], ready };
    let objects: KubeObject[] | undefined;
    let events: KubeObject[] | undefined;
    let failure: unknown;
    const render = () => {
      const now = Date.now();
      const object = objects?.[0];
      const error = failure ? userMessage(failure) : undefined;
      let text: string | undefined;
      if (view === 'events') {
        if (events) text = eventsText(refLabel(ref), events, now, error);
      } else if (objects) {
        if (!object) text = `# ${refLabel(ref)} does not exist (any more).\n`;
        else if (view === 'yaml')
          text = objectYaml(object, vscode.workspace.getConfiguration('kubernetesAgents.yaml').get<boolean>('showManagedFields', false));
        else if (events) text = describeText(object, events, now);
      }
      if (text === undefined && error) text = `# ${refLabel(ref)}: ${error}; retrying\n`;
      if (text === undefined || text === document.text) return;
      document.text = text;
      markReady();
      this.changed.fire(uri);
    };
    const whole = ref.kind === 'Namespace' && view === 'events';
    const eventsNamespace = whole ? ref.name : (ref.namespace ?? 'default');
    void apiPromise.then(
      (api) => {
        if (!this.open.has(uri.toString())) return;
        if (view !== 'events')
          document.lists.push(
            new LiveList({
              api,
              path: () => api.collectionPath(ref.apiVersion, ref.kind, ref.namespace),
              fieldSelector: `metadata.name=${ref.name}`,
              onChange: (items, error) => {
                objects = items;
                failure = error;
                render();
              },
            }),
          );
        if (view !== 'yaml')
          document.lists.push(
            new LiveList({
              api,
              path: async () => `api/v1/namespaces/${encodeURIComponent(eventsNamespace)}/events`,
              fieldSelector: whole ? undefined : involvedObjectSelector(ref),
              onChange: (items, error) => {
                events = items;
                failure = error;
                render();
              },
            }),
          );
      },
      (error: unknown) => {
        failure = error;
        render();
      },
    );
    return document;
  }

  private stop(key: string): void {
    const document = this.open.get(key);
    if (!document) return;
    for (const list of document.lists) list.dispose();
    this.open.delete(key);
  }

  dispose(): void {
    for (const key of [...this.open.keys()]) this.stop(key);
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

/** The two sides of apply diffs, kept until their document closes. */
export class DiffTexts implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private counter = 0;
  private readonly subscriptions = [
    vscode.workspace.registerTextDocumentContentProvider(DIFF_SCHEME, this),
    vscode.workspace.onDidCloseTextDocument((document) => {
      if (document.uri.scheme === DIFF_SCHEME) this.texts.delete(document.uri.toString());
    }),
  ];

  add(name: string, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: DIFF_SCHEME, path: `/${++this.counter}/${name}` });
    this.texts.set(uri.toString(), text);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}
