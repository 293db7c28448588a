// The one KubeConfig factory of the extension: a (connection, agent) pair becomes an in-memory
// KubeConfig whose server is kas's k8s proxy (path prefix kept) and whose user is the
// `pat:<agent-id>:<token>` bearer token, with the connection's CA. Trees, logs, commands and
// managed apps all use it.
//
// Redirects are refused everywhere. client-node fetches with node-fetch, which follows 3xx by
// default (re-sending the Authorization header); a user-supplied kas URL must not be able to
// bounce our token or our requests elsewhere. So API clients get an HTTP library that fetches
// with `redirect: 'manual'` (a 3xx comes back as the answer and fails as an ApiException), and
// Watch (and our log stream) get the same through applyToFetchOptions.
import fetch, { type RequestInit as FetchInit } from 'node-fetch';
import type {
  ApiType,
  Configuration,
  HttpLibrary,
  KubeConfig,
  Observable,
  RequestContext,
  ResponseContext,
} from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { parseHttpUrl } from '../kas_client/http';
import type { ClusterParts } from '../kas_client/kube_client';

export type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

export interface KasKubeConfig extends KubeConfig {
  readonly timeoutMs: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Builds KubeConfigs with the client-node module loaded by the layer. */
export function kubeConfigFactory(k8s: ClientNode): (parts: ClusterParts) => KasKubeConfig {
  /** Fetches for the generated API clients: like client-node's own library, minus redirects, plus a timeout. */
  class NoRedirectHttpLibrary implements HttpLibrary {
    constructor(private readonly timeoutMs: number) {}

    send(request: RequestContext): Observable<ResponseContext> {
      return new k8s.Observable(this.fetchOnce(request));
    }

    private async fetchOnce(request: RequestContext): Promise<ResponseContext> {
      const response = await fetch(request.getUrl(), {
        method: request.getHttpMethod().toString(),
        body: request.getBody() as FetchInit['body'],
        headers: request.getHeaders(),
        signal: request.getSignal() as FetchInit['signal'],
        agent: request.getAgent(),
        redirect: 'manual',
        timeout: this.timeoutMs,
      });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => (headers[name] = value));
      return new k8s.ResponseContext(response.status, headers, { text: () => response.text(), binary: () => response.buffer() });
    }
  }

  class NoRedirectKubeConfig extends k8s.KubeConfig implements KasKubeConfig {
    constructor(readonly timeoutMs: number) {
      super();
    }

    /** API clients that never follow redirects and time out. */
    override makeApiClient<T extends ApiType>(apiClientType: new (config: Configuration) => T): T {
      const cluster = this.getCurrentCluster();
      if (!cluster) throw new Error('KubeConfig without a cluster');
      return new apiClientType(
        k8s.createConfiguration({
          baseServer: new k8s.ServerConfiguration(cluster.server, {}),
          authMethods: { default: this },
          httpApi: new NoRedirectHttpLibrary(this.timeoutMs),
        }),
      );
    }

    /** What Watch (and the log stream) fetch with: no redirects, a headers timeout. */
    override async applyToFetchOptions(
      opts: Parameters<KubeConfig['applyToFetchOptions']>[0],
    ): ReturnType<KubeConfig['applyToFetchOptions']> {
      const options = await super.applyToFetchOptions(opts);
      return { ...options, redirect: 'manual', timeout: this.timeoutMs };
    }
  }

  return (parts) => {
    const kubeConfig = new NoRedirectKubeConfig(parts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const ca = parts.caPem ? { caData: Buffer.from(parts.caPem).toString('base64') } : {};
    const server = parts.server.replace(/\/+$/, '');
    // client-node makes a plain-HTTP agent only with skipTLSVerify set; an http:// kas (local
    // development) has no certificate to verify, and https:// URLs always verify.
    const plainHttp = parseHttpUrl(server).protocol === 'http:';
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'kas', server, skipTLSVerify: plainHttp, ...ca }],
      users: [{ name: 'agent-user', token: parts.token }],
      contexts: [{ name: 'kas', cluster: 'kas', user: 'agent-user' }],
      currentContext: 'kas',
    });
    return kubeConfig;
  };
}
