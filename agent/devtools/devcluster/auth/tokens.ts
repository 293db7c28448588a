// Authentication by static bearer tokens, in the shape of kube-apiserver's --token-auth-file
// (token,user,uid,"group1,group2"), so the data dir's tokens.csv can be edited by hand.
import { timingSafeEqual } from 'node:crypto';
import type { UserInfo } from '../types';

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
