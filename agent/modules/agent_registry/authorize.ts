// Who may use the Kubernetes API proxy through which agent. The membership model of the
// embedded registry (README.md): a user token lists its user's groups and projects; a member of
// group "a" is a member of every group and project below it ("a/b", "a/b/c"). A CI job token
// names its job's project.
//   user_access.projects[].id  → allowed when the user is a member of that project
//   user_access.groups[].id    → allowed when the user is a member of that group
//   ci_access.projects[].id    → allowed when the job runs in that project (the config project
//                                is authorized implicitly, as in the reference)
//   ci_access.groups[].id      → allowed when the job's project lies below that group
import type { AgentConfig, CiAccessAs, UserAccessAs } from '../../shared/agent_config/types';
import { AuthenticationFailures } from './auth_failures';
import type { Principal, UserTokenStore } from './user_tokens';

export type AccessAs = UserAccessAs | CiAccessAs;

export type AuthorizationResult =
  | { allowed: true; accessAs: AccessAs; user?: { username: string; groups: string[] } }
  | { allowed: false; status: 401 | 403; message: string }
  | { allowed: false; status: 429; message: string; retryAfterSeconds: number };

export interface AuthorizeRequest {
  kind: 'pat' | 'ci';
  agentId: string;
  token: string;
  /** The connection's peer address: failed credentials are counted per address and per agent id. */
  clientAddress?: string;
}

export interface AuthorizerOptions {
  userTokens: UserTokenStore;
  /** The config in force for an agent id; undefined when no such agent (or no valid config yet). */
  configOf: (agentId: number) => AgentConfig | undefined;
  /** The config repository's project path (registry.project_id). */
  configProjectId: string;
  /** Slows down and then refuses repeated failures (auth_failures.ts); default: kascfg's defaults, for this authorizer alone. */
  failures?: AuthenticationFailures;
}

/** What a refused client is told: the same for an address and for an agent under attack. */
export const TOO_MANY_FAILURES = 'too many failed authentication attempts; retry later';

export function createAuthorizer(options: AuthorizerOptions): (request: AuthorizeRequest) => Promise<AuthorizationResult> {
  const failures = options.failures ?? new AuthenticationFailures();
  return async ({ kind, agentId, token, clientAddress }) => {
    const expectedKind = kind === 'pat' ? 'user' : 'ci_job';
    const checked = await failures.check(options.userTokens, token, { address: clientAddress, agentId }, (p) => p.kind === expectedKind);
    if (!checked.ok && checked.status === 429)
      return { allowed: false, status: 429, message: TOO_MANY_FAILURES, retryAfterSeconds: checked.retryAfterSeconds };
    if (!checked.ok) return { allowed: false, status: 401, message: 'invalid or revoked token' };
    const principal = checked.principal;
    const id = /^\d+$/.test(agentId) ? Number(agentId) : NaN;
    const config = Number.isNaN(id) ? undefined : options.configOf(id);
    if (!config) return { allowed: false, status: 403, message: `agent ${agentId} does not exist or has no configuration` };
    return principal.kind === 'user'
      ? authorizeUser(principal, config, agentId)
      : authorizeCiJob(principal, config, agentId, options.configProjectId);
  };
}

/** Whether `path` is `ancestor` or lies below it ("a/b" is below "a"). */
export function isWithin(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(ancestor + '/');
}

function authorizeUser(user: Extract<Principal, { kind: 'user' }>, config: AgentConfig, agentId: string): AuthorizationResult {
  const access = config.user_access;
  if (!access)
    return { allowed: false, status: 403, message: `agent ${agentId} does not allow user access (no user_access in its configuration)` };
  const memberOf = (path: string) => user.groups.some((g) => isWithin(path, g)) || user.projects.includes(path);
  const granted = (access.projects ?? []).some((p) => memberOf(p.id)) || (access.groups ?? []).some((g) => memberOf(g.id));
  if (!granted)
    return {
      allowed: false,
      status: 403,
      message: `user ${user.username} is not a member of a project or group that agent ${agentId} authorizes`,
    };
  return { allowed: true, accessAs: access.access_as, user: { username: user.username, groups: [...user.groups] } };
}

function authorizeCiJob(
  job: Extract<Principal, { kind: 'ci_job' }>,
  config: AgentConfig,
  agentId: string,
  configProjectId: string,
): AuthorizationResult {
  const access = config.ci_access;
  const entry = access?.projects?.find((p) => p.id === job.project) ?? access?.groups?.find((g) => isWithin(job.project, g.id));
  if (entry) return { allowed: true, accessAs: entry.access_as ?? { agent: {} } };
  if (job.project === configProjectId) return { allowed: true, accessAs: { agent: {} } };
  return { allowed: false, status: 403, message: `project ${job.project} is not authorized by agent ${agentId}'s ci_access` };
}
