// User tokens for the Kubernetes API proxy (`Bearer pat:<agent-id>:<token>`) and the REST API,
// and CI job tokens (`Bearer ci:<agent-id>:<token>`). The embedded registry has no user
// directory, so each token carries its owner's memberships (see README.md): a user token lists
// the user's groups and projects; a CI job token names the project its job runs in.
import path from 'node:path';
import { TokenFile, TokenLookupCache, TokenNotFoundError, generateToken, hashToken, newTokenId, type StoredToken } from './hashed_tokens';

const USER_TOKEN_PREFIX = 'kut_';
const CI_JOB_TOKEN_PREFIX = 'kci_';

export type Principal = { kind: 'user'; username: string; groups: string[]; projects: string[] } | { kind: 'ci_job'; project: string };

export interface StoredUserToken extends StoredToken {
  principal: Principal;
}

export interface UserTokenInfo {
  id: string;
  name: string;
  principal: Principal;
  createdAt: string;
  revokedAt?: string;
}

export class UserTokenStore {
  private readonly file: TokenFile<StoredUserToken>;
  private readonly cache: TokenLookupCache<Principal | undefined>;

  constructor(dataDir: string) {
    this.file = new TokenFile(path.join(dataDir, 'user-tokens.json'));
    this.cache = new TokenLookupCache(this.file, async (hash) => (await this.file.findActiveByHash(hash))?.principal);
  }

  /** Creates a token and returns it in clear text, once. */
  async create(principal: Principal, name?: string): Promise<{ token: string; info: UserTokenInfo }> {
    const token = generateToken(principal.kind === 'user' ? USER_TOKEN_PREFIX : CI_JOB_TOKEN_PREFIX);
    const id = newTokenId();
    const record: StoredUserToken = {
      id,
      name: name ?? `token-${id}`,
      principal: normalise(principal),
      sha256: hashToken(token),
      createdAt: new Date().toISOString(),
    };
    await this.file.update((tokens) => tokens.push(record));
    this.cache.invalidate();
    return { token, info: publicInfo(record) };
  }

  async list(): Promise<UserTokenInfo[]> {
    return (await this.file.all()).map(publicInfo);
  }

  async revoke(idOrName: string): Promise<UserTokenInfo> {
    const revoked = await this.file.update((tokens) => {
      const match = tokens.find((t) => !t.revokedAt && (t.id === idOrName || t.name === idOrName));
      if (!match) throw new TokenNotFoundError(`no active user token "${idOrName}"`);
      match.revokedAt = new Date().toISOString();
      return match;
    });
    this.cache.invalidate();
    return publicInfo(revoked);
  }

  /** Who holds this token; undefined for unknown or revoked tokens. Cached. */
  authenticate(token: string): Promise<Principal | undefined> {
    return this.cache.get(token);
  }
}

/** Group and project paths are compared without surrounding slashes. */
function normalise(principal: Principal): Principal {
  const clean = (p: string) => p.trim().replace(/^\/+|\/+$/g, '');
  return principal.kind === 'user'
    ? { kind: 'user', username: principal.username, groups: principal.groups.map(clean), projects: principal.projects.map(clean) }
    : { kind: 'ci_job', project: clean(principal.project) };
}

function publicInfo(t: StoredUserToken): UserTokenInfo {
  return { id: t.id, name: t.name, principal: t.principal, createdAt: t.createdAt, ...(t.revokedAt ? { revokedAt: t.revokedAt } : {}) };
}
