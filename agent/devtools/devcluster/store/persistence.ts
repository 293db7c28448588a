// State on disk under --data-dir: objects and the resourceVersion counter (state.json), the CA
// and serving certificate (tls.json), and the token file (tokens.csv). Every write is atomic
// (a temp file renamed over the old one) and object saves are debounced.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { StoreSnapshot } from './store';

export const STATE_FILE = 'state.json';
export const TLS_FILE = 'tls.json';
export const TOKEN_FILE = 'tokens.csv';

/** How long after a change the state is written; changes within it share one write. */
export const SAVE_DELAY_MS = 100;

export interface PersistedTls {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  hosts: string[];
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

export async function writeFileAtomic(file: string, content: string, mode = 0o600): Promise<void> {
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(temp, content, { mode });
  await fs.rename(temp, file);
}

/** The file's content, or undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function readJsonOptional<T>(file: string): Promise<T | undefined> {
  const text = await readOptional(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new StateFileError(`${file} is not valid JSON (${(err as Error).message}); move it away to start fresh`);
  }
}

export function loadSnapshot(dataDir: string): Promise<StoreSnapshot | undefined> {
  return readJsonOptional<StoreSnapshot>(path.join(dataDir, STATE_FILE));
}

/** Writes the store's snapshot shortly after changes, one write at a time. */
export class DebouncedStateWriter {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failure: ((err: unknown) => void) | undefined;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => StoreSnapshot,
    onFailure: (err: unknown) => void,
  ) {
    this.failure = onFailure;
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueueWrite();
    }, SAVE_DELAY_MS);
  }

  /** Writes now (pending or not) and waits for every write to finish. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.enqueueWrite();
    await this.writing;
  }

  private enqueueWrite(): void {
    const content = JSON.stringify(this.snapshot());
    this.writing = this.writing.then(() => writeFileAtomic(this.file, content)).catch((err: unknown) => this.failure?.(err));
  }
}
