// startDevCluster: the embedded Kubernetes API server, with its store, tokens, TLS, pod runtime
// and (with a data dir) state that survives restarts.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { kubeconfigYaml } from '../../internal/kubeconfig';
import { createLogger, type Logger } from '../../internal/log';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../internal/tls';
import { ADMIN_USER, TokenAuthenticator } from './auth/tokens';
import type { ServerParts } from './api_server/context';
import {
  DebouncedStateWriter,
  loadSnapshot,
  readJsonOptional,
  readOptional,
  STATE_FILE,
  TLS_FILE,
  TOKEN_FILE,
  writeFileAtomic,
  type PersistedTls,
} from './store/persistence';
import { createClusterPlugins } from './plugins';
import { CustomResourceTable } from './schema/custom_resources';
import { ensureDefaultNamespaces, loadSeedFile } from './store/seed';
import { createApiServer } from './api_server/server';
import { MemoryObjectStore } from './store/store';
import { loadStructuralSchemas } from './schema/structure';
import type { ObjectStore, UserInfo } from './types';

/** The cluster, user and context name in the kubeconfig the dev cluster writes. */
const KUBECONFIG_CONTEXT = 'devcluster';

export interface DevClusterOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Where state, TLS material and tokens are kept; without it everything lives in memory. */
  dataDir?: string;
  kubeconfigOut?: string;
  /** Multi-document YAML loaded on first start (when the data dir holds no state yet). */
  seedFile?: string;
  logger?: Logger;
}

export interface DevCluster {
  url: string;
  caPem: string;
  adminToken: string;
  kubeconfigPath?: string;
  store: ObjectStore;
  /** Lets `token` authenticate as `user` (saved to the token file with a data dir). */
  addToken(token: string, user: UserInfo): Promise<void>;
  stop(): Promise<void>;
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

async function loadOrCreateTls(dataDir: string | undefined, hosts: string[]): Promise<PersistedTls> {
  const file = dataDir ? path.join(dataDir, TLS_FILE) : undefined;
  const saved = file ? await readJsonOptional<PersistedTls>(file) : undefined;
  if (saved && hosts.every((h) => saved.hosts.includes(h))) return saved;
  const ca = saved ? { certPem: saved.caCertPem, keyPem: saved.caKeyPem } : createCertificateAuthority('devcluster-ca');
  const serving = issueServerCertificate(ca, hosts);
  const tls: PersistedTls = { caCertPem: ca.certPem, caKeyPem: ca.keyPem, certPem: serving.certPem, keyPem: serving.keyPem, hosts };
  if (file) await writeFileAtomic(file, JSON.stringify(tls));
  return tls;
}

/** The token file's authenticator and the admin token (created on first start). */
async function loadOrCreateTokens(dataDir: string | undefined): Promise<{ tokens: TokenAuthenticator; adminToken: string }> {
  const tokens = new TokenAuthenticator();
  const file = dataDir ? path.join(dataDir, TOKEN_FILE) : undefined;
  const content = file ? await readOptional(file) : undefined;
  if (content !== undefined) tokens.load(content);
  const adminLine = content?.split(/\r?\n/).find((line) => line.split(',')[1] === ADMIN_USER.username);
  const adminToken = adminLine?.split(',')[0] ?? newToken();
  if (!adminLine) {
    tokens.add(adminToken, ADMIN_USER);
    if (file) await writeFileAtomic(file, tokens.serialize());
  }
  return { tokens, adminToken };
}

async function loadStore(options: DevClusterOptions, logger: Logger): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore();
  const snapshot = options.dataDir ? await loadSnapshot(options.dataDir) : undefined;
  if (snapshot) store.restore(snapshot);
  ensureDefaultNamespaces(store);
  if (!snapshot && options.seedFile) {
    const created = await loadSeedFile(store, options.seedFile);
    logger.info('seed file loaded', { file: options.seedFile, objects: created });
  }
  return store;
}

function urlOf(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Saves the store to the data dir shortly after each change; a no-op without a data dir. */
function persistStore(
  store: MemoryObjectStore,
  dataDir: string | undefined,
  logger: Logger,
): { flush(): Promise<void>; stop(): Promise<void> } {
  if (!dataDir) return { flush: async () => undefined, stop: async () => undefined };
  const writer = new DebouncedStateWriter(
    path.join(dataDir, STATE_FILE),
    () => store.snapshot(),
    (err) => logger.error('saving state failed', { error: err }),
  );
  const unsubscribe = store.onChange(() => writer.schedule());
  return {
    flush: () => writer.flush(),
    stop: async () => {
      unsubscribe();
      await writer.flush();
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const logger = options.logger ?? createLogger({ component: 'devcluster' });
  const host = options.host ?? '127.0.0.1';
  await loadStructuralSchemas(); // before the seed and any request is checked against them
  if (options.dataDir) await fs.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const tls = await loadOrCreateTls(options.dataDir, LOOPBACK_HOSTS.includes(host) ? LOOPBACK_HOSTS : [host, ...LOOPBACK_HOSTS]);
  const { tokens, adminToken } = await loadOrCreateTokens(options.dataDir);
  const store = await loadStore(options, logger);
  const resources = new CustomResourceTable(store);
  resources.start();
  const plugins = createClusterPlugins(store, logger);
  const persistence = persistStore(store, options.dataDir, logger);
  await persistence.flush();

  const parts: ServerParts = {
    store,
    tokens,
    authorize: plugins.authorize,
    logger,
    runtime: plugins.runtime,
    resources,
    openStreams: new Set(),
  };
  const server = createApiServer(parts, { certPem: tls.certPem, keyPem: tls.keyPem });
  const port = await listen(server, options.port ?? 0, host).catch(async (err: unknown) => {
    await persistence.stop();
    throw err;
  });
  const url = urlOf(host, port);
  plugins.start();
  if (options.kubeconfigOut) {
    const kubeconfig = kubeconfigYaml({ name: KUBECONFIG_CONTEXT, server: url, caPem: tls.caCertPem, token: adminToken });
    await writeFileAtomic(options.kubeconfigOut, kubeconfig);
  }
  logger.info('dev cluster listening', { url, kubeconfig: options.kubeconfigOut, dataDir: options.dataDir });

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    plugins.stop();
    resources.stop();
    for (const end of [...parts.openStreams]) end();
    await closeServer(server);
    await persistence.stop();
  };
  return {
    url,
    caPem: tls.caCertPem,
    adminToken,
    kubeconfigPath: options.kubeconfigOut,
    store,
    async addToken(token: string, user: UserInfo) {
      tokens.add(token, user);
      if (options.dataDir) await writeFileAtomic(path.join(options.dataDir, TOKEN_FILE), tokens.serialize());
    },
    stop: () => (stopping ??= stop()),
  };
}
