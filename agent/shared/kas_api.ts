// What kas's REST API and its Kubernetes API proxy promise their clients (the extension among
// them): the endpoints, the JSON shapes, the error body and the header that marks kas's own
// auth refusals. kas builds these values; clients read them, loosely, as untrusted input.

/** Set to `true` on a 401/403 that kas itself gave (bad credentials), unlike one from the cluster. */
export const KAS_AUTH_ERROR_HEADER = 'x-kas-auth-error';

export const KAS_API_PATHS = {
  version: '/api/v1/version',
  agents: '/api/v1/agents',
  connectedAgents: '/api/v1/connected_agents',
} as const;

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
