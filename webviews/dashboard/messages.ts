// Messages between the extension (extension/src/dashboard/dashboard_panel.ts) and the agent
// dashboard webview (main.ts). The page holds no cluster connection: the extension sends
// snapshots of each kind, then deltas, and the page computes counts, filters and owner trees
// from them. One file, imported by both sides, so a protocol change is a type error on both ends.
import type { AgentConnection, TunnelFiguresView } from '../../agent/shared/kas_api';

export const RESOURCE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod', 'Service'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** The statuses the overview counts per kind, in the order it shows them. */
export const KIND_STATUSES: Record<ResourceKind, readonly string[]> = {
  Deployment: ['Available', 'Progressing', 'Failed'],
  StatefulSet: ['Ready', 'Progressing', 'Failed'],
  DaemonSet: ['Ready', 'Progressing', 'Failed'],
  ReplicaSet: ['Ready', 'Progressing', 'Failed'],
  Job: ['Complete', 'Running', 'Failed', 'Suspended'],
  CronJob: ['Scheduled', 'Active', 'Suspended'],
  Pod: ['Running', 'Pending', 'Succeeded', 'Failed', 'CrashLoopBackOff'],
  Service: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'],
};

export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
}

/** One table row, as the extension summarises an object (the page never sees whole objects in rows). */
export interface ResourceRow {
  uid: string;
  kind: ResourceKind;
  name: string;
  namespace: string;
  /** One of KIND_STATUSES[kind], or another word (Terminating, Unknown) counted under none. */
  status: string;
  /** e.g. "2/3"; "" where the kind has no readiness. */
  ready: string;
  restarts: number;
  /** ms since epoch; 0 when unknown. */
  createdAt: number;
  owners: OwnerRef[];
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** What the drawer shows of one object; sent when the page asks for it and again on each change. */
export interface ResourceDetail {
  uid: string;
  kind: ResourceKind;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  conditions: Condition[];
  /** The status block as YAML (read-only). */
  statusYaml: string;
  /** The spec as YAML (read-only). */
  specYaml: string;
  /** Containers (pods) for the logs and terminal actions. */
  containers: string[];
}

export interface EventRow {
  uid: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  /** ms since epoch. */
  lastSeen: number;
}

export interface AgentHealth {
  agentId: string;
  agentName: string;
  connections: AgentConnection[];
  config: { commit: string | null; valid: boolean; firstError?: { message: string; file: string; line: number; column: number } };
  /** Absent until kas answered (or when this kas has no figures endpoint). */
  figures?: TunnelFiguresView;
}

export interface ManagedAppRow {
  name: string;
  state: string;
}

export type DashboardState =
  /** The first snapshot is on its way. */
  | 'loading'
  | 'live'
  /** kas's REST API or its Kubernetes API proxy does not answer; retrying. */
  | 'kasUnreachable'
  /** kas answers but no agentk replica of this agent is connected; retrying. */
  | 'agentNotConnected'
  /** Another failure; `detail` has the error code and explanation. */
  | 'error';

export type ExtensionToWebview =
  | { type: 'init'; agentName: string; namespaces: string[]; namespace: string; kinds: ResourceKind[] }
  | { type: 'namespaces'; namespaces: string[]; namespace: string }
  /** Replaces every row of `kind`. */
  | { type: 'snapshot'; kind: ResourceKind; rows: ResourceRow[] }
  | { type: 'delta'; upserts: ResourceRow[]; deletes: Array<{ kind: ResourceKind; uid: string }> }
  | { type: 'detail'; detail: ResourceDetail }
  /** Every event of the object shown in the drawer (newest last), replacing what was shown. */
  | { type: 'events'; uid: string; events: EventRow[]; live: boolean }
  | { type: 'health'; health: AgentHealth }
  | { type: 'apps'; apps: ManagedAppRow[] | null }
  | { type: 'state'; state: DashboardState; detail: string };

export type DashboardAction = 'logs' | 'terminal' | 'portForward' | 'yaml' | 'delete';
export const DASHBOARD_ACTIONS: readonly DashboardAction[] = ['logs', 'terminal', 'portForward', 'yaml', 'delete'];

export interface ResourceRef {
  kind: ResourceKind;
  uid: string;
  namespace: string;
  name: string;
}

export type WebviewToExtension =
  | { type: 'ready' }
  | { type: 'selectNamespace'; namespace: string }
  | { type: 'openDetail'; ref: ResourceRef }
  | { type: 'closeDetail' }
  | { type: 'action'; action: DashboardAction; ref: ResourceRef; container?: string }
  | { type: 'openConfig' }
  | { type: 'openManagedApps' };

/** The page's messages are untrusted input to the extension: checked field by field. */
export function isWebviewToExtension(value: unknown): value is WebviewToExtension {
  if (!value || typeof value !== 'object') return false;
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case 'ready':
    case 'closeDetail':
    case 'openConfig':
    case 'openManagedApps':
      return true;
    case 'selectNamespace':
      return typeof message.namespace === 'string';
    case 'openDetail':
      return isRef(message.ref);
    case 'action':
      return (
        DASHBOARD_ACTIONS.includes(message.action as DashboardAction) &&
        isRef(message.ref) &&
        (message.container === undefined || typeof message.container === 'string')
      );
    default:
      return false;
  }
}

function isRef(value: unknown): value is ResourceRef {
  if (!value || typeof value !== 'object') return false;
  const ref = value as Record<string, unknown>;
  return (
    RESOURCE_KINDS.includes(ref.kind as ResourceKind) &&
    typeof ref.uid === 'string' &&
    typeof ref.namespace === 'string' &&
    typeof ref.name === 'string'
  );
}
