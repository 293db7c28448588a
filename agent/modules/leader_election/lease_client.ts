// The three calls the elector makes on a coordination.k8s.io/v1 Lease (read, create, replace),
// over node:http(s) with the TLS material and credentials of agentk's KubeConfig. client-node's
// CoordinationV1Api would do the same, but importing it pulls in client-node's whole generated
// API (every model and API class), about 10 MiB of RSS for three requests (BENCHMARKS.md, agentk memory).
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

/** The Lease fields the elector reads and writes; times are MicroTime strings (RFC 3339 with microseconds). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The API server answered with this HTTP status (404: no Lease yet, 409: another writer won). */
export class LeaseApiError extends Error {
  override name = 'LeaseApiError';
  constructor(readonly code: number) {
    super(`the Kubernetes API answered ${code}`);
  }
}

/** A Lease larger than this is not one the elector wrote: the answer is refused, not buffered. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class LeaseClient {
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
  ) {}

  read(name: string): Promise<Lease> {
    return this.call('GET', `/${encodeURIComponent(name)}`);
  }

  create(body: Lease): Promise<Lease> {
    return this.call('POST', '', body);
  }

  replace(name: string, body: Lease): Promise<Lease> {
    return this.call('PUT', `/${encodeURIComponent(name)}`, body);
  }

  private async call(method: string, suffix: string, body?: Lease): Promise<Lease> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(
      `${cluster.server.replace(/\/$/, '')}/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases${suffix}`,
    );
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const options: https.RequestOptions = {
      method,
      headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<Lease>((resolve, reject) => {
      const req = transport.request(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error('the Lease answer is too large'));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(new LeaseApiError(status));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Lease);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}
