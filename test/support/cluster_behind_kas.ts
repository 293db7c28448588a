// A dev cluster reached the way users reach a real one: kas with TLS on its listeners, agentk
// dialing it with the CA file, and the dev cluster behind agentk. For suites that exercise
// clients (kubectl, the extension's cluster code) through the tunnel.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Agentk } from '../../agent/agentk';
import { createCertificateAuthority } from '../../agent/internal/tls';
import { AGENT_ID, USER_TOKEN, startAgentk, startKas, waitForIdleTunnels, type Kas } from '../modules/reverse_tunnel/harness';
import { startTestCluster, type TestCluster } from './devcluster';

export interface ClusterBehindKas {
  cluster: TestCluster;
  kas: Kas;
  agentk: Agentk;
  /** The CA that signed kas's certificate, for clients that must trust it. */
  caPem: string;
  /** A user credential kas accepts for the agent, in the form clients send it. */
  userToken: string;
  stop(): Promise<void>;
}

export async function startClusterBehindKas(): Promise<ClusterBehindKas> {
  const cluster = await startTestCluster();
  const ca = createCertificateAuthority();
  const caFile = path.join(cluster.dir, 'kas-ca.pem');
  await fs.writeFile(caFile, ca.certPem);
  const kas = await startKas({ tlsCa: ca });
  const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: cluster.kubeconfig, caFile });
  await waitForIdleTunnels(kas.registry);
  return {
    cluster,
    kas,
    agentk,
    caPem: ca.certPem,
    userToken: `pat:${AGENT_ID}:${USER_TOKEN}`,
    async stop() {
      await agentk.stop();
      await kas.stop();
      await cluster.stop();
    },
  };
}
