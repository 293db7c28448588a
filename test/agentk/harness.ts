// agentk as the kubelet runs it, against the dev cluster: the objects of `kas agent
// install-manifest` applied for real, a service account token the dev cluster accepts for the
// manifest's service account, the mounted files (token, ca.crt, namespace) in a folder, the
// env vars (KUBERNETES_SERVICE_HOST/PORT, POD_NAME/POD_NAMESPACE from the downward API), and
// the built dist/agentk.js as a child process. kas runs in-process with a TLS k8s proxy, so
// real kubectl reaches the cluster through kas and agentk's tunnel.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import path from 'node:path';
import { stringify } from 'yaml';
import { startDevCluster, type DevCluster } from '../../agent/devtools/devcluster/index';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { renderInstallManifest, type AgentAccess } from '../../agent/modules/agent_registry/install_manifest';
import { startKas, type Kas } from '../../agent/kas/index';
import { runKubectl, type KubectlResult } from '../support/kubectl';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../kas/helpers';

const ROOT = path.join(__dirname, '..', '..');
export const AGENT = 'dev';
export const NAMESPACE = 'gitlab-agent';
export const SERVICE_ACCOUNT = `gitlab-agent-${AGENT}`;
export const SERVICE_ACCOUNT_USER = `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`;

export interface Stack {
  dir: string;
  cluster: DevCluster;
  clusterKubeconfig: string;
  kas: Kas;
  agentId: number;
  agentTokenFile: string;
  userToken: string;
  /** kubectl through kas's k8s proxy as a user of the agent. */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** kubectl straight to the dev cluster as its admin. */
  admin(args: string[], input?: string): Promise<KubectlResult>;
  /** A service account folder as the kubelet mounts it, with a fresh token the cluster accepts. */
  serviceAccountDir(name: string): Promise<string>;
  /** A token the dev cluster accepts for the manifest's service account. */
  newServiceAccountToken(): Promise<string>;
  /** Connected agentk replicas of the agent, from kas's REST API. */
  connections(): Promise<Array<{ podName: string; podNamespace: string }>>;
  stop(): Promise<void>;
}

export async function startStack(access: AgentAccess = { kind: 'cluster-admin' }): Promise<Stack> {
  const temp = makeTempDir('agentk-in-cluster-');
  const dir = temp.dir;
  const repo = new TestRepository(dir);
  repo.commit({ [`.gitlab/agents/${AGENT}/config.yaml`]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n' });
  const clusterKubeconfig = path.join(dir, 'cluster.kubeconfig');
  const cluster = await startDevCluster({ kubeconfigOut: clusterKubeconfig, logger: testLogger() });
  const ca = createCertificateAuthority();
  const serving = issueServerCertificate(ca, LOOPBACK_HOSTS);
  writeFileSync(path.join(dir, 'kas.crt'), serving.certPem);
  writeFileSync(path.join(dir, 'kas.key'), serving.keyPem);
  const tlsFiles = { certificate_file: path.join(dir, 'kas.crt'), key_file: path.join(dir, 'kas.key') };
  const kas = await startKas(
    testKasConfig(repo.dir, path.join(dir, 'data'), { agent: { kubernetes_api: { listen: tlsFiles } }, kas: { agent_wait_timeout: '5s' } }),
    testLogger(),
  );
  const agentToken = (await kas.registry.agentTokens.create(AGENT)).token;
  const agentTokenFile = path.join(dir, 'agent-token');
  writeFileSync(agentTokenFile, agentToken);
  const agentId = kas.registry.watcher.agentByName(AGENT)!.id;
  const userToken = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
  const userKubeconfig = path.join(dir, 'user.kubeconfig');
  writeFileSync(
    userKubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'kas',
          cluster: { server: kas.k8sProxyUrl.replace(/\/$/, ''), 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') },
        },
      ],
      users: [{ name: 'ada', user: { token: `pat:${agentId}:${userToken}` } }],
      contexts: [{ name: 'kas', context: { cluster: 'kas', user: 'ada' } }],
      'current-context': 'kas',
    }),
  );
  const admin = (args: string[], input?: string) => runKubectl(args, { kubeconfig: clusterKubeconfig, input });
  await createNamespaces(admin, access);
  const manifest = renderInstallManifest({
    agent: AGENT,
    kasAddress: 'grpcs://kas.example.com:8150',
    token: agentToken,
    namespace: NAMESPACE,
    access,
    image: 'agentk:test',
    replicas: 2,
  });
  const applied = await admin(['apply', '-f', '-'], manifest);
  if (applied.code !== 0) throw new Error(`the install manifest did not apply: ${applied.stderr}`);

  const newServiceAccountToken = async () => {
    const token = randomBytes(24).toString('base64url');
    await cluster.addToken(token, {
      username: SERVICE_ACCOUNT_USER,
      uid: 'sa-uid',
      groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
    });
    return token;
  };
  return {
    dir,
    cluster,
    clusterKubeconfig,
    kas,
    agentId,
    agentTokenFile,
    userToken,
    kubectl: (args, input) => runKubectl(['--request-timeout=20s', ...args], { kubeconfig: userKubeconfig, input }),
    admin,
    newServiceAccountToken,
    async serviceAccountDir(name) {
      const saDir = path.join(dir, 'pods', name, 'serviceaccount');
      mkdirSync(saDir, { recursive: true });
      writeFileSync(path.join(saDir, 'token'), await newServiceAccountToken());
      writeFileSync(path.join(saDir, 'ca.crt'), cluster.caPem);
      writeFileSync(path.join(saDir, 'namespace'), NAMESPACE);
      return saDir;
    },
    connections: async () => {
      const body = await getJson(`${kas.apiUrl}api/v1/agents`, userToken);
      const agent = (
        body as { agents: Array<{ name: string; connections: Array<{ podName: string; podNamespace: string }> }> }
      ).agents.find((a) => a.name === AGENT);
      return agent?.connections ?? [];
    },
    async stop() {
      await kas.stop();
      await cluster.stop();
      temp.remove();
    },
  };
}

async function createNamespaces(admin: (args: string[]) => Promise<KubectlResult>, access: AgentAccess): Promise<void> {
  const namespaces = access.kind === 'namespaced' ? access.namespaces : [];
  for (const ns of namespaces) {
    const created = await admin(['create', 'namespace', ns]);
    if (created.code !== 0) throw new Error(created.stderr);
  }
}

function getJson(url: string, token: string): Promise<unknown> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
  });
}

export interface AgentkProcess {
  podName: string;
  child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts dist/agentk.js as the kubelet would: no kubeconfig, the in-cluster env and files. */
export function spawnAgentk(stack: Stack, podName: string, serviceAccountDir: string, extraArgs: string[] = []): AgentkProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.KUBECONFIG;
  const clusterUrl = new URL(stack.cluster.url);
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'dist', 'agentk.js'),
      `--kas-address=grpc://${stack.kas.agentAddress}`,
      `--token-file=${stack.agentTokenFile}`,
      `--service-account-dir=${serviceAccountDir}`,
      '--observability-listen-address=127.0.0.1:0',
      `--leader-election-lease=${SERVICE_ACCOUNT}-leader`,
      '--log-level=info',
      ...extraArgs,
    ],
    {
      env: {
        ...env,
        KUBERNETES_SERVICE_HOST: clusterUrl.hostname,
        KUBERNETES_SERVICE_PORT: clusterUrl.port,
        POD_NAME: podName,
        POD_NAMESPACE: NAMESPACE,
        HOME: path.join(stack.dir, 'home-' + podName), // no ~/.kube/config to fall back on
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    podName,
    child,
    output: () => output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}
