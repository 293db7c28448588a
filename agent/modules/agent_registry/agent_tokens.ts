// Agent tokens (what agentk sends as `authorization: Bearer <token>`): at most two active per
// agent, so a token can be rotated without downtime. Only hashes are kept on disk.
import path from 'node:path';
import type { AgentIdStore } from './agent_ids';
import { TokenFile, TokenLookupCache, TokenNotFoundError, generateToken, hashToken, newTokenId, type StoredToken } from './hashed_tokens';

export const MAX_ACTIVE_TOKENS_PER_AGENT = 2;
const AGENT_TOKEN_PREFIX = 'kat_';

export interface StoredAgentToken extends StoredToken {
  agentName: string;
}

export interface AuthenticatedAgent {
  agentId: string;
  agentName: string;
}

export class TokenLimitError extends Error {
  override name = 'TokenLimitError';
}

export interface AgentTokenInfo {
  id: string;
  name: string;
  agentName: string;
  createdAt: string;
  revokedAt?: string;
}

export class AgentTokenStore {
  private readonly file: TokenFile<StoredAgentToken>;
  private readonly cache: TokenLookupCache<AuthenticatedAgent | undefined>;

  constructor(
    dataDir: string,
    private readonly agentIds: AgentIdStore,
  ) {
    this.file = new TokenFile(path.join(dataDir, 'agent-tokens.json'));
    this.cache = new TokenLookupCache(this.file, (hash) => this.lookup(hash));
  }

  /** Creates a token and returns it in clear text; this is the only time it exists outside agentk. */
  async create(agentName: string, name?: string): Promise<{ token: string; info: AgentTokenInfo }> {
    const token = generateToken(AGENT_TOKEN_PREFIX);
    const id = newTokenId();
    const record = await this.file.update((tokens) => {
      const active = tokens.filter((t) => t.agentName === agentName && !t.revokedAt);
      if (active.length >= MAX_ACTIVE_TOKENS_PER_AGENT) {
        throw new TokenLimitError(
          `agent "${agentName}" already has ${active.length} active tokens (at most ${MAX_ACTIVE_TOKENS_PER_AGENT}); revoke one first`,
        );
      }
      const created: StoredAgentToken = {
        id,
        name: name ?? `token-${id}`,
        agentName,
        sha256: hashToken(token),
        createdAt: new Date().toISOString(),
      };
      tokens.push(created);
      return created;
    });
    this.cache.invalidate();
    return { token, info: publicInfo(record) };
  }

  async list(agentName?: string): Promise<AgentTokenInfo[]> {
    return (await this.file.all()).filter((t) => agentName === undefined || t.agentName === agentName).map(publicInfo);
  }

  /** Revokes the agent's active token with this id or name. */
  async revoke(agentName: string, idOrName: string): Promise<AgentTokenInfo> {
    const revoked = await this.file.update((tokens) => {
      const match = tokens.find((t) => t.agentName === agentName && !t.revokedAt && (t.id === idOrName || t.name === idOrName));
      if (!match) throw new TokenNotFoundError(`agent "${agentName}" has no active token "${idOrName}"`);
      match.revokedAt = new Date().toISOString();
      return match;
    });
    this.cache.invalidate();
    return publicInfo(revoked);
  }

  /** The agent a token belongs to, or undefined for an unknown or revoked token. Cached. */
  authenticate(token: string): Promise<AuthenticatedAgent | undefined> {
    return this.cache.get(token);
  }

  private async lookup(sha256: string): Promise<AuthenticatedAgent | undefined> {
    const record = await this.file.findActiveByHash(sha256);
    if (!record) return undefined;
    return { agentId: String(await this.agentIds.idFor(record.agentName)), agentName: record.agentName };
  }
}

function publicInfo(t: StoredAgentToken): AgentTokenInfo {
  return { id: t.id, name: t.name, agentName: t.agentName, createdAt: t.createdAt, ...(t.revokedAt ? { revokedAt: t.revokedAt } : {}) };
}
