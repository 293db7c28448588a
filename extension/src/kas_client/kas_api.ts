// The kas REST API the extension reads: version and agents (with their config status and
// connected replicas). The shapes are validated loosely: a field of the wrong type is a
// BAD_RESPONSE, extra fields are ignored.
import { KasClientError } from './errors';
import { HttpTarget, requestJson } from './http';
import { KAS_API_PATHS, tunnelFiguresPath, type AgentConnection, type TunnelFiguresView } from '../../../agent/shared/kas_api';

export type { AgentConnection };

export interface ConfigError {
  message: string;
  line: number;
  column: number;
}

export interface AgentInfo {
  id: string;
  name: string;
  configProject: string;
  config: { commit: string | null; valid: boolean; errors: ConfigError[] };
  connections: AgentConnection[];
}

export class KasApi {
  constructor(private readonly target: HttpTarget) {}

  async version(signal?: AbortSignal): Promise<string> {
    const body = await requestJson<{ version?: unknown }>(this.target, KAS_API_PATHS.version.slice(1), { signal });
    if (typeof body?.version !== 'string') throw new KasClientError('BAD_RESPONSE');
    return body.version;
  }

  async agents(signal?: AbortSignal): Promise<AgentInfo[]> {
    const body = await requestJson<{ agents?: unknown }>(this.target, KAS_API_PATHS.agents.slice(1), { signal });
    if (!Array.isArray(body?.agents)) throw new KasClientError('BAD_RESPONSE');
    return body.agents.map(toAgentInfo);
  }

  /** The agent's tunnel figures over the last 15 minutes (the dashboard's health panel). */
  async tunnelFigures(agentId: string, signal?: AbortSignal): Promise<TunnelFiguresView> {
    const body = await requestJson<Partial<TunnelFiguresView> | null>(this.target, tunnelFiguresPath(agentId).slice(1), { signal });
    if (!body || !Array.isArray(body.minutes) || typeof body.requestsPerMinute !== 'number' || typeof body.openStreams !== 'number') {
      throw new KasClientError('BAD_RESPONSE');
    }
    return body as TunnelFiguresView;
  }
}

function toAgentInfo(raw: unknown): AgentInfo {
  const value = raw as Partial<AgentInfo> | null;
  if (!value || (typeof value.id !== 'string' && typeof value.id !== 'number') || typeof value.name !== 'string') {
    throw new KasClientError('BAD_RESPONSE');
  }
  const config = value.config ?? { commit: null, valid: true, errors: [] };
  return {
    id: String(value.id),
    name: value.name,
    configProject: typeof value.configProject === 'string' ? value.configProject : '',
    config: {
      commit: typeof config.commit === 'string' ? config.commit : null,
      valid: config.valid !== false,
      errors: Array.isArray(config.errors) ? config.errors : [],
    },
    connections: Array.isArray(value.connections) ? value.connections : [],
  };
}
