// Small JSON documents in the registry's data directory. Writes go to a temporary file that is
// renamed over the target, so a reader (kas) never sees a half-written file while the CLI writes.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function readJsonFile<T>(file: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await rename(temporary, file);
}

/** A cheap change marker for a file (another process may rewrite it): mtime, size and inode. */
export async function fileVersion(file: string): Promise<string> {
  try {
    const info = await stat(file, { bigint: true });
    return `${info.mtimeNs}:${info.size}:${info.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}

const LOCK_RETRY_MS = 10;
const LOCK_WAIT_MS = 5000;
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 10_000;

export class FileLockTimeoutError extends Error {
  override name = 'FileLockTimeoutError';
}

/**
 * Runs `critical` holding `<file>.lock` (created with O_EXCL), so that kas and the kas CLI in
 * another process never interleave read-modify-write cycles of the same file.
 */
export async function withFileLock<T>(file: string, critical: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await removeIfStale(lock)) continue;
      if (Date.now() > deadline)
        throw new FileLockTimeoutError(`${lock} is held by another process; remove it if no kas process is running`);
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
  }
  try {
    return await critical();
  } finally {
    await rm(lock, { force: true });
  }
}

async function removeIfStale(lock: string): Promise<boolean> {
  try {
    const info = await stat(lock);
    if (Date.now() - info.mtimeMs < STALE_LOCK_MS) return false;
    await rm(lock, { force: true });
    return true;
  } catch {
    return true; // gone already: try again
  }
}
