// Impersonation through Impersonate-User/Group/Uid/Extra-* headers: each part is checked with
// the authorizer as kube-apiserver does, so callers that impersonate (agentk's access-as modes)
// get the same 400s and 403s as on a real cluster.
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../status';
import type { Authorizer, UserInfo } from '../types';
import { serviceAccountGroups } from './rbac';

function headerValues(headers: IncomingHttpHeaders, name: string): string[] {
  const raw = headers[name];
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? raw : [raw];
  // Node joins repeated headers with ", "; group names never contain a comma.
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

function impersonatedExtra(headers: IncomingHttpHeaders): Record<string, string[]> | undefined {
  const extra: Record<string, string[]> = {};
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('impersonate-extra-')) continue;
    extra[decodeURIComponent(name.slice('impersonate-extra-'.length))] = headerValues(headers, name);
  }
  return Object.keys(extra).length > 0 ? extra : undefined;
}

function forbidImpersonation(user: UserInfo, what: string, name: string, reason: string): ApiError {
  const message = `${what} "${name}" is forbidden: User "${user.username}" cannot impersonate resource "${what}" in API group "${what === 'uids' || what.startsWith('userextras') ? 'authentication.k8s.io' : ''}" at the cluster scope${reason ? `: ${reason}` : ''}`;
  return new ApiError(403, 'Forbidden', message, { name, kind: what });
}

/**
 * The identity a request acts as: the caller itself, or the one named by Impersonate-* headers
 * when the authorizer lets the caller impersonate every part of it (403 otherwise).
 */
export function resolveImpersonation(caller: UserInfo, headers: IncomingHttpHeaders, authorize: Authorizer): UserInfo {
  const [username] = headerValues(headers, 'impersonate-user');
  const groups = headerValues(headers, 'impersonate-group');
  const [uid] = headerValues(headers, 'impersonate-uid');
  const extra = impersonatedExtra(headers);
  if (!username) {
    if (groups.length > 0 || uid || extra)
      throw new ApiError(400, 'BadRequest', 'requested impersonation without a user: Impersonate-User is required');
    return caller;
  }
  const checks: Array<{ resource: string; apiGroup: string; name: string; subresource?: string }> = [
    { resource: 'users', apiGroup: '', name: username },
    ...groups.map((g) => ({ resource: 'groups', apiGroup: '', name: g })),
    ...(uid ? [{ resource: 'uids', apiGroup: 'authentication.k8s.io', name: uid }] : []),
    ...Object.entries(extra ?? {}).flatMap(([key, values]) =>
      values.map((v) => ({ resource: 'userextras', subresource: key, apiGroup: 'authentication.k8s.io', name: v })),
    ),
  ];
  for (const check of checks) {
    const decision = authorize(caller, { verb: 'impersonate', ...check });
    if (!decision.allowed)
      throw forbidImpersonation(
        caller,
        check.subresource ? `userextras/${check.subresource}` : check.resource,
        check.name,
        decision.reason,
      );
  }
  return { username, uid, groups: impersonatedGroupsOf(username, groups), extra };
}

/** As Kubernetes does: a service account impersonated without groups gets its usual groups. */
function impersonatedGroupsOf(username: string, groups: string[]): string[] {
  const serviceAccount = /^system:serviceaccount:([^:]+):[^:]+$/.exec(username);
  if (serviceAccount && groups.length === 0) return serviceAccountGroups(serviceAccount[1]!);
  return groups.includes('system:authenticated') ? groups : [...groups, 'system:authenticated'];
}
