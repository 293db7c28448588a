// Saved connections to kas. The list (URLs, label, CA file path) lives in the extension's
// global state; each token lives only in SecretStorage under a key derived from the connection
// id. Written against two tiny interfaces so it runs (and is tested) without VS Code.
import { randomUUID } from 'node:crypto';
import { UserFacingError } from '../kas_client/errors';
import { parseHttpUrl } from '../kas_client/http';

export interface ConnectionRecord {
  id: string;
  label: string;
  /** kas REST API base URL, e.g. https://127.0.0.1:8153/ */
  apiUrl: string;
  /** kas Kubernetes API proxy base URL, e.g. https://127.0.0.1:8154/k8s-proxy/ */
  k8sProxyUrl: string;
  caFile?: string;
  /** 'localPair' connections are added and removed by Start/Stop Local Pair. */
  origin: 'user' | 'localPair';
}

export type NewConnection = Omit<ConnectionRecord, 'id'>;

/** The slice of vscode.Memento used here. */
export interface KeyValueState {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

/** The slice of vscode.SecretStorage used here. */
export interface SecretVault {
  get(key: string): Thenable<string | undefined>;
  store(key: string, value: string): Thenable<void>;
  delete(key: string): Thenable<void>;
}

const LIST_KEY = 'kasConnections.v1';
const secretKey = (id: string) => `kasConnection.token.${id}`;

export class ConnectionStore {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly state: KeyValueState,
    private readonly secrets: SecretVault,
  ) {}

  list(): ConnectionRecord[] {
    return [...(this.state.get<ConnectionRecord[]>(LIST_KEY) ?? [])];
  }

  get(id: string): ConnectionRecord | undefined {
    return this.list().find((c) => c.id === id);
  }

  async add(connection: NewConnection, token: string): Promise<ConnectionRecord> {
    validateConnection(connection, token);
    const record: ConnectionRecord = { ...connection, id: randomUUID() };
    await this.secrets.store(secretKey(record.id), token);
    await this.state.update(LIST_KEY, [...this.list(), record]);
    this.emit();
    return record;
  }

  async remove(id: string): Promise<boolean> {
    const before = this.list();
    const after = before.filter((c) => c.id !== id);
    await this.secrets.delete(secretKey(id));
    if (after.length === before.length) return false;
    await this.state.update(LIST_KEY, after);
    this.emit();
    return true;
  }

  token(id: string): Thenable<string | undefined> {
    return this.secrets.get(secretKey(id));
  }

  onDidChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

export class ConnectionInputError extends UserFacingError {
  override name = 'ConnectionInputError';
  constructor(explanation: string) {
    super('INVALID_INPUT', explanation);
  }
}

function validateConnection(connection: NewConnection, token: string): void {
  parseHttpUrl(connection.apiUrl);
  parseHttpUrl(connection.k8sProxyUrl);
  if (!connection.label.trim()) throw new ConnectionInputError('the connection needs a name');
  if (!token.trim() || /\s/.test(token)) throw new ConnectionInputError('the token must be a non-empty string without spaces');
}
