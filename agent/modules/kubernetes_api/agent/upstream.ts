// agentk → Kubernetes API: TLS material and credentials from @kubernetes/client-node's KubeConfig
// (in-cluster account, a kubeconfig file and context, or the dev cluster), applied to plain
// node:http(s) requests so bodies stream both ways. client-node builds a new https.Agent on every
// applyToHTTPSOptions call; agentk instead keeps one keep-alive agent per TLS identity and
// re-reads credentials every few seconds (rotated in-cluster tokens, exec plugins).
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export interface UpstreamRequestOptions {
  url: URL;
  agent: http.Agent;
  /** Credential headers (Authorization) from the kubeconfig. */
  headers: Record<string, string>;
  auth?: string;
}

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

const CREDENTIAL_REFRESH_MS = 5_000;

interface AppliedOptions extends https.RequestOptions {
  headers?: Record<string, string>;
}

export class KubernetesApiUpstream {
  private readonly url: URL;
  private cached: { at: number; options: Promise<UpstreamRequestOptions> } | undefined;
  private agent: { key: string; agent: http.Agent } | undefined;

  constructor(private readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster');
    this.url = new URL(cluster.server);
  }

  get server(): string {
    return this.url.href;
  }

  requestOptions(): Promise<UpstreamRequestOptions> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CREDENTIAL_REFRESH_MS) {
      const options = this.load();
      this.cached = { at: now, options };
      options.catch(() => {
        if (this.cached?.options === options) this.cached = undefined; // retry on the next request
      });
    }
    return this.cached.options;
  }

  close(): void {
    this.agent?.agent.destroy();
  }

  private async load(): Promise<UpstreamRequestOptions> {
    const applied: AppliedOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(applied);
    (applied.agent as http.Agent | undefined)?.destroy();
    return { url: this.url, agent: this.agentFor(applied), headers: { ...applied.headers }, auth: applied.auth ?? undefined };
  }

  private agentFor(applied: AppliedOptions): http.Agent {
    const tlsOptions = {
      ca: applied.ca,
      cert: applied.cert,
      key: applied.key,
      servername: applied.servername,
      rejectUnauthorized: applied.rejectUnauthorized,
    };
    const key = JSON.stringify(tlsOptions, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
    if (this.agent?.key !== key) {
      const previous = this.agent?.agent;
      const agentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' as const };
      const agent = this.url.protocol === 'https:' ? new https.Agent({ ...agentOptions, ...tlsOptions }) : new http.Agent(agentOptions);
      this.agent = { key, agent };
      // Requests in flight keep their sockets; only the idle ones go.
      if (previous) setTimeout(() => previous.destroy(), 60_000).unref();
    }
    return this.agent.agent;
  }
}

export function requestModuleFor(url: URL): typeof http | typeof https {
  return url.protocol === 'https:' ? https : http;
}
