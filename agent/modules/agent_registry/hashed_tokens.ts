// Shared mechanics of the agent and user token stores: only a SHA-256 of each token is kept.
// A plain (unsalted, fast) hash is enough because every token is 32 random bytes (256 bits):
// nobody can guess or brute-force a preimage, unlike a password, so a slow KDF buys nothing and
// the hash can serve directly as the lookup key.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { fileVersion, readJsonFile, withFileLock, writeJsonFile } from './json_file';

export interface StoredToken {
  id: string;
  name: string;
  sha256: string;
  createdAt: string;
  revokedAt?: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new opaque token: a recognisable prefix and 32 random bytes, base64url (never contains ':'). */
export function generateToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function newTokenId(): string {
  return randomUUID().slice(0, 8);
}

export class TokenNotFoundError extends Error {
  override name = 'TokenNotFoundError';
}

/** A JSON file of token records; every mutation re-reads it (another process may have written). */
export class TokenFile<T extends StoredToken> {
  private pending: Promise<unknown> = Promise.resolve();
  /** Active tokens by hash, as of one version of the file. */
  private index: { version: string; active: Map<string, T> } | undefined;

  constructor(readonly file: string) {}

  async all(): Promise<T[]> {
    return (await readJsonFile<{ tokens: T[] }>(this.file, { tokens: [] })).tokens;
  }

  /**
   * A stat, and a read only when the file changed: an unknown token (a client sending bogus ones,
   * a token refused while its address is over the failure limit) costs no file read.
   */
  async findActiveByHash(sha256: string): Promise<T | undefined> {
    const version = await this.version();
    if (this.index?.version !== version) {
      const tokens = await this.all();
      this.index = { version, active: new Map(tokens.filter((t) => !t.revokedAt).map((t) => [t.sha256, t])) };
    }
    return this.index.active.get(sha256);
  }

  /** Read-modify-write of the token list, serialised in this process and locked against others. */
  async update<R>(change: (tokens: T[]) => R): Promise<R> {
    const run = this.pending.then(() =>
      withFileLock(this.file, async () => {
        const tokens = await this.all();
        const result = change(tokens);
        await writeJsonFile(this.file, { tokens });
        return result;
      }),
    );
    this.pending = run.catch(() => undefined);
    return run;
  }

  version(): Promise<string> {
    return fileVersion(this.file);
  }
}

interface CacheEntry<V> {
  value: V;
  expiresAt: number;
}

/**
 * Caches token lookups by hash: answers for 5 minutes, failed lookups (I/O errors) for 1 minute.
 * The whole cache is dropped when the token file changes on disk (create or revoke by the kas
 * CLI in another process), checked at most once a second: a stat per proxied request would cost
 * ~60 µs. A revocation through this process's store takes effect at once, another process's
 * within a second.
 */
/** Bounds memory when clients send many different (bogus) tokens. */
const MAX_CACHED_TOKENS = 10_000;

export class TokenLookupCache<V> {
  private readonly entries = new Map<string, CacheEntry<{ ok: true; value: V } | { ok: false; error: Error }>>();
  /** Bumped on every invalidation, so a lookup that started before it cannot cache a stale answer. */
  private generation = 0;
  private seenVersion: string | undefined;
  private versionCheck: { at: number; done: Promise<void> } | undefined;

  constructor(
    private readonly tokens: { version(): Promise<string> },
    private readonly lookup: (sha256: string) => Promise<V>,
    private readonly ttlMs = 5 * 60_000,
    private readonly errorTtlMs = 60_000,
    private readonly versionCheckIntervalMs = 1000,
  ) {}

  async get(token: string): Promise<V> {
    await this.dropIfFileChanged();
    const key = hashToken(token);
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > now) {
      if (cached.value.ok) return cached.value.value;
      throw cached.value.error;
    }
    const generation = this.generation;
    try {
      const value = await this.lookup(key);
      this.remember(generation, key, { value: { ok: true, value }, expiresAt: now + this.ttlMs });
      return value;
    } catch (err) {
      this.remember(generation, key, { value: { ok: false, error: err as Error }, expiresAt: now + this.errorTtlMs });
      throw err;
    }
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
    this.versionCheck = undefined;
  }

  private remember(generation: number, key: string, entry: CacheEntry<{ ok: true; value: V } | { ok: false; error: Error }>): void {
    if (generation !== this.generation) return;
    if (this.entries.size >= MAX_CACHED_TOKENS) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }

  /** Concurrent and recent callers share one check. */
  private dropIfFileChanged(): Promise<void> {
    const now = Date.now();
    if (!this.versionCheck || now - this.versionCheck.at >= this.versionCheckIntervalMs) {
      this.versionCheck = { at: now, done: this.compareFileVersion() };
    }
    return this.versionCheck.done;
  }

  private async compareFileVersion(): Promise<void> {
    let version: string;
    try {
      version = await this.tokens.version();
    } catch {
      return;
    }
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      this.generation++;
      this.entries.clear();
    }
  }
}
