// access_as: whose identity the Kubernetes API sees for a proxied request. kas decides it per
// request (from the agent config's user_access or ci_access entry that let the caller in) and
// sends it with the request; agentk turns it into Impersonate-* headers.
//   agent        agentk's own account; the only mode where the client's Impersonate-* pass through
//   impersonate  the configured username / groups / uid / extra
//   user         user "gitlab:user:<name>", the groups kas names for the user
//   ci_job       user "gitlab:ci_job:<name>", the groups kas names for the job
// Same shape as AgentConfig's CiAccessAs | UserAccessAs (agent_configuration/schema/types.ts).

export interface Impersonation {
  username: string;
  groups?: string[];
  uid?: string;
  extra?: { key: string; val: string[] }[];
}

export type AccessAs =
  { agent: Record<string, never> } | { impersonate: Impersonation } | { user: Record<string, never> } | { ci_job: Record<string, never> };

/** Who is calling, as kas established it. */
export interface CallerUser {
  username: string;
  groups: string[];
}

export class ImpersonationError extends Error {
  override name = 'ImpersonationError';
}

const IMPERSONATE_PREFIX = 'impersonate-';

export function isImpersonationHeader(name: string): boolean {
  return name.toLowerCase().startsWith(IMPERSONATE_PREFIX);
}

/** The Impersonate-* headers to set upstream; undefined for `agent` (leave the client's as they are). */
export function impersonationHeaders(accessAs: AccessAs, user: CallerUser | undefined): Record<string, string[]> | undefined {
  const impersonation = impersonationOf(accessAs, user);
  return impersonation && fromImpersonation(impersonation);
}

/** Whom the request impersonates; undefined for `agent` (the reference's empty ImpersonationConfig). */
export function impersonationOf(accessAs: AccessAs, user: CallerUser | undefined): Impersonation | undefined {
  if ('agent' in accessAs) return undefined;
  if ('impersonate' in accessAs) return accessAs.impersonate;
  const kind = 'user' in accessAs ? 'user' : 'ci_job';
  if (!user?.username) throw new ImpersonationError(`access_as ${kind} needs the caller's identity, and kas sent none`);
  return { username: `gitlab:${kind}:${user.username}`, groups: user.groups };
}

function fromImpersonation(imp: Impersonation): Record<string, string[]> {
  if (!imp.username) throw new ImpersonationError('access_as impersonate needs a username');
  const headers: Record<string, string[]> = { 'impersonate-user': [imp.username] };
  if (imp.groups?.length) headers['impersonate-group'] = [...imp.groups];
  if (imp.uid) headers['impersonate-uid'] = [imp.uid];
  for (const { key, val } of imp.extra ?? []) headers[`impersonate-extra-${encodeURIComponent(key)}`] = [...val];
  return headers;
}

export function parseAccessAs(json: string | undefined): AccessAs {
  if (!json) return { agent: {} };
  const value = JSON.parse(json) as unknown;
  if (typeof value !== 'object' || value === null) throw new ImpersonationError('access_as must be an object');
  const keys = Object.keys(value);
  if (keys.length !== 1 || !['agent', 'impersonate', 'user', 'ci_job'].includes(keys[0] ?? '')) {
    throw new ImpersonationError(`access_as must have exactly one of agent, impersonate, user, ci_job; got ${keys.join(', ') || 'none'}`);
  }
  return value as AccessAs;
}
