// kas's Connect a Cluster endpoints (agent/modules/rest_api/agent_admin.ts), as the extension
// calls them. A refusal is told by its HTTP status in this extension's own words: kas's text is
// never shown (errors.ts), and the status alone is unambiguous for these two endpoints.
import { KasClientError, UserFacingError } from '../kas_client/errors';
import { readCaFile, requestJson, type HttpTarget } from '../kas_client/http';
import type { ConnectionStore } from '../connections/connection_store';
import {
  KAS_ADMIN_API_PATHS,
  type CreateAgentInstallRequest,
  type CreateAgentInstallResponse,
  type RegisterAgentResponse,
} from '../../../agent/shared/kas_api';

export async function adminTarget(store: ConnectionStore, connectionId: string): Promise<HttpTarget> {
  const record = store.get(connectionId);
  if (!record) throw new KasClientError('NOT_FOUND');
  const token = await store.token(connectionId);
  if (!token) throw new KasClientError('KAS_UNAUTHORIZED');
  return { baseUrl: record.apiUrl, authorization: `Bearer ${token}`, caPem: await readCaFile(record.caFile), unauthorizedMeansKas: true };
}

const REGISTER_REFUSALS: Record<number, [string, string]> = {
  400: ['INVALID_AGENT_NAME', 'kas refused the agent name'],
  403: ['FORBIDDEN', 'only members of the config project may register agents'],
  409: ['AGENT_EXISTS', 'an agent of that name exists already (or the config repository changed meanwhile; try again)'],
  502: ['CONFIG_REPOSITORY_PUSH_FAILED', 'kas could not write the config repository (for a mirror it needs push credentials)'],
};

const INSTALL_REFUSALS: Record<number, [string, string]> = {
  403: ['FORBIDDEN', 'only members of the config project may create agent tokens'],
  404: ['NOT_FOUND', 'kas does not know this agent (any more)'],
  409: ['TOKEN_LIMIT', 'the agent has 2 active tokens already; revoke one with `kas token revoke`'],
};

async function post<T>(target: HttpTarget, path: string, body: unknown, refusals: Record<number, [string, string]>): Promise<T> {
  try {
    const answer = await requestJson<T>(target, path.slice(1), { method: 'POST', body });
    if (!answer || typeof answer !== 'object') throw new KasClientError('BAD_RESPONSE');
    return answer;
  } catch (error) {
    const refusal = error instanceof KasClientError && error.status !== undefined ? refusals[error.status] : undefined;
    if (refusal) throw new UserFacingError(...refusal);
    throw error;
  }
}

export async function registerAgent(target: HttpTarget, name: string): Promise<RegisterAgentResponse> {
  const answer = await post<RegisterAgentResponse>(target, KAS_ADMIN_API_PATHS.registerAgent, { name }, REGISTER_REFUSALS);
  if (typeof answer.agent?.id !== 'number' || answer.agent.name !== name) throw new KasClientError('BAD_RESPONSE');
  return answer;
}

export async function createInstall(
  target: HttpTarget,
  agentId: number,
  request: CreateAgentInstallRequest = {},
): Promise<CreateAgentInstallResponse> {
  const answer = await post<CreateAgentInstallResponse>(target, KAS_ADMIN_API_PATHS.agentInstall(agentId), request, INSTALL_REFUSALS);
  const ok = typeof answer.token?.value === 'string' && typeof answer.manifest === 'string' && typeof answer.installCommand === 'string';
  if (!ok) throw new KasClientError('BAD_RESPONSE');
  return answer;
}
