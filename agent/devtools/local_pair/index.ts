// The local pair: the dev cluster (or a given kubeconfig context), a git config repository with
// one agent `dev`, kas and one agentk, all on loopback in this process. State lives in a data
// directory so a second start reuses the cluster, the tokens and the repository.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { runAgentk, type Agentk } from '../../agentk/index';
import { startDevCluster, type DevCluster } from '../devcluster/index';
import { kubeconfigYaml } from '../../internal/kubeconfig';
import type { Logger } from '../../internal/log';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../internal/tls';
import { startKas, type Kas } from '../../kas/index';
import { MAX_ACTIVE_TOKENS_PER_AGENT } from '../../modules/agent_registry/agent_tokens';
import { formatProxyCredential } from '../../shared/proxy_credential';

export const LOCAL_AGENT_NAME = 'dev';
export const LOCAL_PROJECT_ID = 'local/agents';
const LOCAL_USER = 'developer';

/** The reference's default ports; `freePorts` swaps them for port 0 (tests, a second pair). */
const DEFAULT_PORTS = { agent: 8150, observability: 8151, api: 8153, k8sProxy: 8154, agentkObservability: 8080 };

export interface LocalPairOptions {
  dataDir: string;
  /** Where the user kubeconfig (server: the kas k8s proxy) is written; default <dataDir>/kubeconfig. */
  kubeconfigOut?: string;
  /** Use this cluster instead of the dev cluster. */
  clusterKubeconfig?: string;
  clusterContext?: string;
  freePorts?: boolean;
  logger: Logger;
}

export interface LocalPair {
  agentId: number;
  agentName: string;
  /** The user's personal token: `pat:<agentId>:<userToken>` on the k8s proxy, `Bearer <userToken>` on the REST API. */
  userToken: string;
  k8sProxyUrl: string;
  apiUrl: string;
  agentAddress: string;
  caFile: string;
  kubeconfigPath: string;
  clusterUrl: string;
  kas: Kas;
  agentk: Agentk;
  stop(): Promise<void>;
}

export async function startLocalPair(options: LocalPairOptions): Promise<LocalPair> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => options.logger.warn('stop failed', { err }));
  };
  try {
    const cluster = await clusterFor(options, dataDir);
    stops.push(cluster.stop);
    const repository = ensureConfigRepository(path.join(dataDir, 'config-repo'));
    const tls = ensureKasTls(path.join(dataDir, 'kas-tls'));
    const kascfgPath = writeKasConfig(dataDir, repository, tls, options.freePorts ?? false);
    const kas = await startKas(kascfgPath, options.logger.child({ component: 'kas' }));
    stops.push(() => kas.stop());

    const agent = kas.registry.watcher.agentByName(LOCAL_AGENT_NAME);
    if (!agent) throw new Error(`agent ${LOCAL_AGENT_NAME} was not found in ${repository}`);
    const agentToken = await ensureAgentToken(kas, path.join(dataDir, 'agentk-token'));
    const userToken = await ensureUserToken(kas, path.join(dataDir, 'user-token'));

    const agentk = await runAgentk({
      kasAddress: `grpc://${kas.agentAddress}`,
      token: agentToken,
      kubeconfig: cluster.kubeconfigPath,
      kubeContext: options.clusterContext,
      observabilityAddress: `127.0.0.1:${options.freePorts ? 0 : DEFAULT_PORTS.agentkObservability}`,
      podName: 'agentk-local',
      podNamespace: 'local-pair',
      logger: options.logger.child({ component: 'agentk' }),
    });
    stops.push(() => agentk.stop());

    const kubeconfigPath = path.resolve(options.kubeconfigOut ?? path.join(dataDir, 'kubeconfig'));
    writeSecretFile(
      kubeconfigPath,
      kubeconfigYaml({
        name: 'local-pair',
        server: kas.k8sProxyUrl.replace(/\/$/, ''),
        caPem: tls.caPem,
        token: formatProxyCredential('pat', agent.id, userToken),
      }),
    );
    return {
      agentId: agent.id,
      agentName: LOCAL_AGENT_NAME,
      userToken,
      k8sProxyUrl: kas.k8sProxyUrl,
      apiUrl: kas.apiUrl,
      agentAddress: kas.agentAddress,
      caFile: tls.caFile,
      kubeconfigPath,
      clusterUrl: cluster.url,
      kas,
      agentk,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface ClusterHandle {
  url: string;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

async function clusterFor(options: LocalPairOptions, dataDir: string): Promise<ClusterHandle> {
  if (options.clusterKubeconfig) {
    return {
      url: `kubeconfig ${options.clusterKubeconfig}`,
      kubeconfigPath: path.resolve(options.clusterKubeconfig),
      stop: async () => undefined,
    };
  }
  const clusterDir = path.join(dataDir, 'devcluster');
  const kubeconfigPath = path.join(clusterDir, 'kubeconfig');
  mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
  // The seed is read only on the first start, when the data dir holds no cluster state yet.
  const seedFile = path.join(clusterDir, 'demo-seed.yaml');
  writeFileSync(seedFile, DEMO_SEED);
  const cluster: DevCluster = await startDevCluster({
    dataDir: clusterDir,
    kubeconfigOut: kubeconfigPath,
    seedFile,
    logger: options.logger.child({ component: 'devcluster' }),
  });
  return { url: cluster.url, kubeconfigPath, stop: () => cluster.stop() };
}

/** Something to look at on a new dev cluster: a server that logs, a finished job, a crashing pod. */
const DEMO_SEED = `apiVersion: v1
kind: Namespace
metadata: { name: demo }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: demo, labels: { app: web } }
spec:
  containers:
    - name: nginx
      image: nginx:1.27
      env:
        - { name: SIM_LINES, value: "100000" }
        - { name: SIM_MESSAGE, value: "GET /healthz 200 request {n}" }
        - { name: SIM_LINE_INTERVAL_MS, value: "2000" }
---
apiVersion: v1
kind: Pod
metadata: { name: migrate, namespace: demo, labels: { app: migrate } }
spec:
  restartPolicy: Never
  containers:
    - name: migrate
      image: busybox
      command: [sh, -c, "echo applying migrations; sleep 1; echo done"]
---
apiVersion: v1
kind: Pod
metadata: { name: flaky, namespace: demo, labels: { app: flaky } }
spec:
  restartPolicy: Always
  containers:
    - name: app
      image: busybox
      env:
        - { name: SIM_LINES, value: "3" }
        - { name: SIM_MESSAGE, value: "ERROR connection refused (attempt {n})" }
        - { name: SIM_LINE_INTERVAL_MS, value: "1000" }
        - { name: SIM_EXIT_CODE, value: "1" }
`;

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Local Pair',
  GIT_AUTHOR_EMAIL: 'local-pair@localhost',
  GIT_COMMITTER_NAME: 'Local Pair',
  GIT_COMMITTER_EMAIL: 'local-pair@localhost',
};

/** A git repository on branch main holding `.gitlab/agents/dev/config.yaml`; made once. */
function ensureConfigRepository(dir: string): string {
  if (existsSync(path.join(dir, '.git'))) return dir;
  mkdirSync(path.join(dir, '.gitlab', 'agents', LOCAL_AGENT_NAME), { recursive: true });
  const config = {
    user_access: { access_as: { agent: {} }, projects: [{ id: LOCAL_PROJECT_ID }] },
    observability: { logging: { level: 'info' } },
  };
  writeFileSync(path.join(dir, '.gitlab', 'agents', LOCAL_AGENT_NAME, 'config.yaml'), stringify(config));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { env: { ...process.env, ...GIT_IDENTITY }, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('commit', '-q', '-m', 'Agent dev for the local pair');
  return dir;
}

interface KasTls {
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA and a loopback serving certificate for kas's k8s proxy, kept across restarts. */
function ensureKasTls(dir: string): KasTls {
  const files = { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key') };
  if (!existsSync(files.keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = createCertificateAuthority('local-pair-kas-ca');
    const serving = issueServerCertificate(ca, LOOPBACK_HOSTS);
    writeFileSync(files.caFile, ca.certPem);
    writeFileSync(files.certFile, serving.certPem);
    writeSecretFile(files.keyFile, serving.keyPem);
  }
  return { ...files, caPem: readFileSync(files.caFile, 'utf8') };
}

function writeKasConfig(dataDir: string, repository: string, tls: KasTls, freePorts: boolean): string {
  const port = (name: keyof typeof DEFAULT_PORTS) => `127.0.0.1:${freePorts ? 0 : DEFAULT_PORTS[name]}`;
  const kascfg = {
    agent: {
      // Nothing balances load in front of the local pair: no need to wait before closing listeners.
      listen: { address: port('agent'), websocket: true, listen_grace_period: '0s' },
      kubernetes_api: {
        listen: { address: port('k8sProxy'), certificate_file: tls.certFile, key_file: tls.keyFile },
        url_path_prefix: '/k8s-proxy/',
      },
    },
    api: { listen: { address: port('api') } },
    observability: { listen: { address: port('observability') } },
    registry: { config_repository: repository, data_dir: path.join(dataDir, 'kas'), project_id: LOCAL_PROJECT_ID },
  };
  const file = path.join(dataDir, 'kascfg.yaml');
  writeFileSync(file, `# Written by the local pair at every start.\n${stringify(kascfg)}`);
  return file;
}

/**
 * agentk's token, kept in a 0600 file as a Secret would hold it in a cluster (kas itself keeps
 * only its hash). A lost or revoked token is replaced, retiring the oldest one when two are active.
 */
async function ensureAgentToken(kas: Kas, file: string): Promise<string> {
  const saved = readOptionalSecret(file);
  if (saved && (await kas.registry.agentTokens.authenticate(saved))) return saved;
  const active = (await kas.registry.agentTokens.list(LOCAL_AGENT_NAME)).filter((t) => !t.revokedAt);
  if (active.length >= MAX_ACTIVE_TOKENS_PER_AGENT) await kas.registry.agentTokens.revoke(LOCAL_AGENT_NAME, active[0]!.id);
  const { token } = await kas.registry.agentTokens.create(LOCAL_AGENT_NAME, 'local-pair');
  writeSecretFile(file, token);
  return token;
}

async function ensureUserToken(kas: Kas, file: string): Promise<string> {
  const saved = readOptionalSecret(file);
  if (saved && (await kas.registry.userTokens.authenticate(saved))) return saved;
  const { token } = await kas.registry.userTokens.create(
    { kind: 'user', username: LOCAL_USER, groups: [], projects: [LOCAL_PROJECT_ID] },
    'local-pair',
  );
  writeSecretFile(file, token);
  return token;
}

function readOptionalSecret(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

function writeSecretFile(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}
