// What kas's REST API and its Kubernetes API proxy promise their clients (the extension among
// them): the endpoints, the JSON shapes, the error body and the header that marks kas's own
// 401s. kas builds these values; clients read them, loosely, as untrusted input.

/**
 * Set to `true` on a 401 that kas itself gave (bad or missing credentials), never on one the
 * cluster gave: the reference's marker.
 */
export const KAS_UNAUTHORIZED_HEADER = 'gitlab-unauthorized';
/** The marker earlier kas versions set on their own 401/403; clients still read it. */
export const LEGACY_KAS_AUTH_ERROR_HEADER = 'x-kas-auth-error';

export const KAS_API_PATHS = {
  version: '/api/v1/version',
  agents: '/api/v1/agents',
  connectedAgents: '/api/v1/connected_agents',
} as const;

/** GET /api/v1/agents/<id>/tunnel_figures: the agent's Kubernetes API traffic through this kas. */
export function tunnelFiguresPath(agentId: string | number): string {
  return `${KAS_API_PATHS.agents}/${encodeURIComponent(String(agentId))}/tunnel_figures`;
}

/** One connected agentk replica. */
export interface AgentConnection {
  podName: string;
  podNamespace: string;
  version: string;
  /** ISO 8601. */
  connectedSince: string;
}

export interface AgentConfigError {
  message: string;
  line: number;
  column: number;
  file: string;
}

/** An agent of the config project: GET /api/v1/agents lists them, /api/v1/agents/<id> gives one. */
export interface AgentView {
  id: number;
  name: string;
  configProject: string;
  config: { commit: string | null; valid: boolean; errors: AgentConfigError[] };
  connections: AgentConnection[];
}

/** GET /api/v1/connected_agents. */
export interface ConnectedAgentsView {
  configProject: string;
  /** false when the shared registry could not be read and only this replica's view is shown. */
  complete: boolean;
  agents: Array<{ id: number; name: string; configProject: string; connections: AgentConnection[] }>;
}

/** The body of every REST API error. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** One minute of an agent's proxied requests through this kas replica. */
export interface TunnelFiguresMinute {
  /** Start of the minute, ms since epoch. */
  start: number;
  requests: number;
  /** Answers with status 5xx (kas's own 502/504 included) or no status. */
  errors: number;
  /** Latency to the response head, estimated from the histogram buckets; null without requests. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Tunnel streams open at the end of the minute (the current one: now). */
  openStreams: number;
}

/** GET /api/v1/agents/<id>/tunnel_figures. */
export interface TunnelFiguresView {
  agentId: number;
  /** The window: 15 one-minute buckets, oldest first; the last is the minute under way. */
  windowMinutes: number;
  minutes: TunnelFiguresMinute[];
  /** Over the whole window. */
  requestsPerMinute: number;
  errorsPerMinute: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Open now: idle streams agentk keeps ready plus streams carrying a request. */
  openStreams: number;
  busyStreams: number;
  /** This replica's figures only (with several kas replicas each sees its own share). */
  scope: 'replica';
}

/** Connect a Cluster: register an agent, then make its token and install manifest. */
export const KAS_ADMIN_API_PATHS = {
  /** POST: register an agent (RegisterAgentRequest → RegisterAgentResponse, 201). */
  registerAgent: '/api/v1/agents',
  /** POST /api/v1/agents/<id>/install (CreateAgentInstallRequest → CreateAgentInstallResponse, 201). */
  agentInstall: (agentId: number) => `/api/v1/agents/${agentId}/install`,
} as const;

/** The error codes of the Connect a Cluster endpoints (besides unauthorized, not_found, internal). */
export type AgentAdminErrorCode =
  | 'invalid_request'
  | 'invalid_agent_name'
  | 'agent_exists'
  | 'forbidden'
  | 'token_limit'
  | 'config_repository_conflict'
  | 'config_repository_push_failed';

export interface RegisterAgentRequest {
  /** The folder name under .gitlab/agents/ (validateAgentName's rules). */
  name: string;
}

export interface RegisterAgentResponse {
  agent: AgentView;
  /** The commit that added .gitlab/agents/<name>/config.yaml. */
  commit: string;
  /** Path of the written file inside the config repository. */
  configFile: string;
}

export interface CreateAgentInstallRequest {
  /** agentk's kas address as the cluster reaches it; default: this kas's agent listener. */
  kasAddress?: string;
  /** Namespace for agentk; default gitlab-agent. */
  namespace?: string;
  /** A name for the new token; default install-<date>. */
  tokenName?: string;
}

export interface CreateAgentInstallResponse {
  agentId: number;
  agentName: string;
  /** The agent token in clear text: given once, kas keeps only its SHA-256. */
  token: { id: string; name: string; value: string };
  /** The install manifest (multi-document YAML; it holds the token). */
  manifest: string;
  /** One line that installs it: the manifest on stdin of kubectl apply. */
  installCommand: string;
}
