// Turns a saved connection into ready clients: the kas REST API and, per agent, the Kubernetes
// API through kas's proxy (client-node, loaded on first use; one client per agent, kept). The
// token and CA are read once per session and kept in memory only.
import { KasClientError } from '../kas_client/errors';
import { HttpTarget, readCaFile } from '../kas_client/http';
import { KasApi } from '../kas_client/kas_api';
import type { ClusterParts, KubeClient } from '../kas_client/kube_client';
import { formatProxyCredential } from '../../../agent/shared/proxy_credential';
import { kubeClientFor } from '../kube/load';
import type { ConnectionRecord, ConnectionStore } from './connection_store';

export interface Session {
  record: ConnectionRecord;
  kas: KasApi;
  kube(agentId: string): Promise<KubeClient>;
  /** Settings for building a kubeconfig: the proxy URL, CA and the credential for an agent. */
  kubeconfigParts(agentId: string): ClusterParts;
}

export function createSession(record: ConnectionRecord, token: string, caPem: string | undefined): Session {
  const api: HttpTarget = { baseUrl: record.apiUrl, authorization: `Bearer ${token}`, caPem, unauthorizedMeansKas: true };
  const kubeconfigParts = (agentId: string): ClusterParts => ({
    server: record.k8sProxyUrl,
    caPem,
    token: formatProxyCredential('pat', agentId, token),
  });
  const clients = new Map<string, Promise<KubeClient>>();
  const kube = (agentId: string): Promise<KubeClient> => {
    let client = clients.get(agentId);
    if (!client) {
      client = kubeClientFor(kubeconfigParts(agentId));
      clients.set(agentId, client);
      client.catch(() => clients.delete(agentId));
    }
    return client;
  };
  return { record, kas: new KasApi(api), kube, kubeconfigParts };
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(private readonly store: ConnectionStore) {
    store.onDidChange(() => this.forgetRemoved());
  }

  get(connectionId: string): Promise<Session> {
    let session = this.sessions.get(connectionId);
    if (!session) {
      session = this.open(connectionId);
      this.sessions.set(connectionId, session);
      // A failed open (token missing, CA unreadable) is retried on the next call.
      session.catch(() => this.sessions.delete(connectionId));
    }
    return session;
  }

  private async open(connectionId: string): Promise<Session> {
    const record = this.store.get(connectionId);
    if (!record) throw new KasClientError('NOT_FOUND');
    const token = await this.store.token(connectionId);
    if (!token) throw new KasClientError('KAS_UNAUTHORIZED');
    return createSession(record, token, await readCaFile(record.caFile));
  }

  private forgetRemoved(): void {
    const ids = new Set(this.store.list().map((c) => c.id));
    for (const id of [...this.sessions.keys()]) if (!ids.has(id)) this.sessions.delete(id);
  }
}
