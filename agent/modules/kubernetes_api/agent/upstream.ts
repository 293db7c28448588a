// agentk → Kubernetes API: TLS material and credentials from @kubernetes/client-node's KubeConfig
// (in-cluster account, a kubeconfig file and context, or the dev cluster), applied to an undici
// Pool so bodies stream both ways through its low-level dispatch API (see forwarder.ts).
// client-node builds a new https.Agent on every applyToHTTPSOptions call; agentk instead keeps one
// keep-alive Pool per TLS identity and re-reads credentials every few seconds (rotated in-cluster
// tokens, exec plugins). undici's client costs a third to a half of node:http's CPU per request.
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { Cluster, KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { Pool, type Dispatcher } from 'undici';

/** What a request to the Kubernetes API needs; the same object for 5 s, so cheap to reuse per request. */
export interface UpstreamTarget {
  /** One keep-alive pool per TLS identity: never a new one per request. */
  dispatcher: Dispatcher;
  /** The server URL's path (a server at https://host/prefix), without a trailing slash; often ''. */
  basePath: string;
  /** Credential headers from the kubeconfig (Authorization, Impersonate-User), lower-case names. */
  credentialHeaders: Record<string, string>;
}

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

const CREDENTIAL_REFRESH_MS = 5_000;
/** Idle keep-alive connections close after this (or the server's Keep-Alive hint, if shorter). */
const KEEP_ALIVE_MS = 30_000;

interface AppliedOptions extends https.RequestOptions {
  headers?: Record<string, string>;
}

export class KubernetesApiUpstream {
  private readonly url: URL;
  private readonly credentialSource: KubeConfig;
  private cached: { at: number; target: Promise<UpstreamTarget>; resolved?: UpstreamTarget } | undefined;
  private pool: { key: string; pool: Pool } | undefined;

  constructor(kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster');
    this.url = new URL(cluster.server);
    this.credentialSource = this.url.protocol === 'http:' ? plainHttpView(kubeConfig, cluster) : kubeConfig;
  }

  get server(): string {
    return this.url.href;
  }

  /** The target when credentials are fresh, without waiting; undefined when they must be (re)read. */
  freshTarget(): UpstreamTarget | undefined {
    const cached = this.cached;
    return cached?.resolved && Date.now() - cached.at <= CREDENTIAL_REFRESH_MS ? cached.resolved : undefined;
  }

  target(): Promise<UpstreamTarget> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CREDENTIAL_REFRESH_MS) {
      const entry: { at: number; target: Promise<UpstreamTarget>; resolved?: UpstreamTarget } = { at: now, target: this.load() };
      this.cached = entry;
      entry.target.then(
        (target) => (entry.resolved = target),
        () => {
          if (this.cached === entry) this.cached = undefined; // retry on the next request
        },
      );
    }
    return this.cached.target;
  }

  close(): void {
    const pool = this.pool?.pool;
    this.pool = undefined;
    pool?.destroy().catch(() => undefined); // destroy does not fail; nothing is waiting on it
  }

  private async load(): Promise<UpstreamTarget> {
    const applied: AppliedOptions = { headers: {} };
    await this.credentialSource.applyToHTTPSOptions(applied);
    (applied.agent as http.Agent | undefined)?.destroy(); // client-node's per-call agent: unused
    return {
      dispatcher: this.poolFor(applied),
      basePath: this.url.pathname.replace(/\/$/, ''),
      credentialHeaders: credentialHeaders(applied),
    };
  }

  private poolFor(applied: AppliedOptions): Pool {
    const tls = {
      ca: applied.ca,
      cert: applied.cert,
      key: applied.key,
      servername: applied.servername,
      rejectUnauthorized: applied.rejectUnauthorized,
    };
    const key = JSON.stringify(tls, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
    if (this.pool?.key !== key) {
      const previous = this.pool?.pool;
      this.pool = { key, pool: this.newPool(tls) };
      // close() lets requests in flight (watches, logs -f) finish on their connections, and
      // takes no new ones; upgraded connections no longer belong to the pool at all.
      previous?.close().catch(() => undefined);
    }
    return this.pool.pool;
  }

  private newPool(tls: Pick<https.RequestOptions, 'ca' | 'cert' | 'key' | 'servername' | 'rejectUnauthorized'>): Pool {
    const secure = this.url.protocol === 'https:';
    return new Pool(this.url.origin, {
      connections: null, // as many connections as requests in flight, like http.Agent's maxSockets: Infinity
      pipelining: 1,
      // Watches and logs -f stay open, quiet, for as long as the client wants: no undici timeouts
      // (its defaults cut a response after 300 s without bytes). node:http had none either.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: KEEP_ALIVE_MS,
      connect: secure ? { ...definedOnly(tls) } : undefined,
    });
  }
}

/**
 * client-node refuses to build its agent for an http:// server unless the cluster says
 * insecure-skip-tls-verify, so a plain-HTTP kubeconfig with a token user failed every request;
 * kubectl allows that setup, and TLS verification means nothing without TLS. The view differs
 * from the original only in that flag, for the current cluster.
 */
function plainHttpView(kubeConfig: KubeConfig, current: Cluster): KubeConfig {
  const KubeConfigClass = kubeConfig.constructor as new () => KubeConfig;
  const view = new KubeConfigClass();
  view.loadFromOptions({
    clusters: kubeConfig.clusters.map((cluster) => (cluster.name === current.name ? { ...cluster, skipTLSVerify: true } : cluster)),
    contexts: kubeConfig.contexts,
    users: kubeConfig.users,
    currentContext: kubeConfig.currentContext,
  });
  return view;
}

function credentialHeaders(applied: AppliedOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(applied.headers ?? {})) headers[name.toLowerCase()] = value;
  // Basic auth (username/password users): node:http's `auth` option, spelled out for undici.
  if (applied.auth) headers['authorization'] = `Basic ${Buffer.from(applied.auth).toString('base64')}`;
  return headers;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}
