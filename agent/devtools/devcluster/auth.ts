// Authentication by static bearer tokens (the shape of kube-apiserver's --token-auth-file:
// token,user,uid,"group1,group2") and impersonation through Impersonate-* headers.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { serviceAccountGroups } from './rbac';
import { ApiError } from './status';
import type { Authorizer, UserInfo } from './types';

export const ADMIN_USER: UserInfo = { username: 'devcluster-admin', uid: 'devcluster-admin', groups: ['system:masters'] };

export class TokenAuthenticator {
  private readonly tokens = new Map<string, UserInfo>();

  add(token: string, user: UserInfo): void {
    if (!token || /[\s,]/.test(token)) throw new Error('a token must be non-empty and contain no whitespace or commas');
    this.tokens.set(token, user);
  }

  /** The user of an Authorization header; undefined for no or an unknown token. */
  authenticate(authorization: string | undefined): UserInfo | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const offered = Buffer.from(match[1]!);
    for (const [token, user] of this.tokens) {
      const known = Buffer.from(token);
      if (known.length === offered.length && timingSafeEqual(known, offered)) return withAuthenticatedGroup(user);
    }
    return undefined;
  }

  /** The token file's content, one line per token. */
  serialize(): string {
    return (
      [...this.tokens].map(([token, user]) => `${token},${user.username},${user.uid ?? ''},"${user.groups.join(',')}"`).join('\n') + '\n'
    );
  }

  /** Adds every token of a token file; throws on a malformed line (naming the line, not the token). */
  load(content: string): void {
    content.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '' || line.startsWith('#')) return;
      const match = /^([^,]+),([^,]+),([^,]*)(?:,"?([^"]*)"?)?\s*$/.exec(line.trim());
      if (!match) throw new Error(`token file line ${index + 1} is not token,user,uid,"groups"`);
      const groups = (match[4] ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      this.add(match[1]!, { username: match[2]!, uid: match[3] || undefined, groups });
    });
  }
}

function withAuthenticatedGroup(user: UserInfo): UserInfo {
  const groups = user.groups.includes('system:authenticated') ? user.groups : [...user.groups, 'system:authenticated'];
  return { ...user, groups };
}

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
