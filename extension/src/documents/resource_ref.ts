// Which Kubernetes object a command or a document is about: the agent that reaches its cluster
// and the object's identity. Built from any tree node that names one (pods, namespaces, and
// resource nodes that carry the object), and written into the URIs of the virtual documents.
// No `vscode` import, so tests use it as is.

export interface ResourceRef {
  connectionId: string;
  agentId: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** An object's identity within one cluster. */
export type ObjectIdentity = Pick<ResourceRef, 'apiVersion' | 'kind' | 'namespace' | 'name'>;

/** What a document shows of the object. */
export type DocumentView = 'yaml' | 'describe' | 'events';

export const DOCUMENT_SCHEME = 'k8s-agent';

interface ObjectLike {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
}

interface NodeLike {
  kind?: unknown;
  connectionId?: unknown;
  agentId?: unknown;
  namespace?: unknown;
  name?: unknown;
  apiVersion?: unknown;
  resourceKind?: unknown;
  pod?: ObjectLike;
  object?: ObjectLike;
  podName?: unknown;
  agent?: { id?: unknown };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * The object a tree node stands for, or undefined. Pod and container nodes name their pod, a
 * namespace node its Namespace; other nodes count when they carry the object itself (`object`)
 * or its identity (`apiVersion`, `resourceKind`, `name`).
 */
export function refOfNode(node: unknown): ResourceRef | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const n = node as NodeLike;
  const connectionId = text(n.connectionId);
  const agentId = text(n.agentId) ?? text(n.agent?.id);
  if (!connectionId || !agentId) return undefined;
  const base = { connectionId, agentId };
  if (n.kind === 'namespace' && text(n.namespace)) return { ...base, apiVersion: 'v1', kind: 'Namespace', name: text(n.namespace)! };
  if (n.kind === 'container' && text(n.podName))
    return { ...base, apiVersion: 'v1', kind: 'Pod', namespace: text(n.namespace), name: text(n.podName)! };
  const object = n.pod ?? n.object;
  if (object) {
    const name = text(object.metadata?.name);
    const apiVersion = text(object.apiVersion) ?? (n.pod ? 'v1' : undefined);
    const kind = text(object.kind) ?? (n.pod ? 'Pod' : undefined);
    if (name && apiVersion && kind)
      return { ...base, apiVersion, kind, namespace: text(object.metadata?.namespace) ?? text(n.namespace), name };
  }
  const apiVersion = text(n.apiVersion);
  const kind = text(n.resourceKind);
  const name = text(n.name);
  if (apiVersion && kind && name) return { ...base, apiVersion, kind, namespace: text(n.namespace), name };
  return undefined;
}

/** `/<agent>/<namespace or _cluster>/<kind>/<name>.<view>`, with the connection and apiVersion in the query. */
export function documentPath(ref: ResourceRef, view: DocumentView): { path: string; query: string } {
  const enc = encodeURIComponent;
  const extension = view === 'yaml' ? 'yaml' : view === 'describe' ? 'describe.txt' : 'events.txt';
  const path = `/${enc(ref.agentId)}/${enc(ref.namespace ?? '_cluster')}/${enc(ref.kind)}/${enc(ref.name)}.${extension}`;
  const query = new URLSearchParams({ connection: ref.connectionId, apiVersion: ref.apiVersion, view }).toString();
  return { path, query };
}

export function parseDocumentPath(path: string, query: string): { ref: ResourceRef; view: DocumentView } | undefined {
  const match = /^\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+?)\.(yaml|describe\.txt|events\.txt)$/.exec(path);
  const params = new URLSearchParams(query);
  const connectionId = params.get('connection');
  const apiVersion = params.get('apiVersion');
  const view = params.get('view');
  if (!match || !connectionId || !apiVersion || (view !== 'yaml' && view !== 'describe' && view !== 'events')) return undefined;
  const dec = decodeURIComponent;
  const namespace = dec(match[2]!);
  return {
    ref: {
      connectionId,
      agentId: dec(match[1]!),
      apiVersion,
      kind: dec(match[3]!),
      namespace: namespace === '_cluster' ? undefined : namespace,
      name: dec(match[4]!),
    },
    view,
  };
}

export function refLabel(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}
