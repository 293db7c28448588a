// `kas agent install-manifest`: the Kubernetes objects that run agentk in a cluster, printed
// as one multi-document YAML for `kubectl apply -f -`. The same objects, with placeholders, are
// the kustomize base deploy/agentk/. Shaped after the reference's agentk Helm chart: a
// namespace, a service account, the token in a Secret (mounted as a file, never an env var),
// cluster-admin by default or a Role per listed namespace, and a Deployment whose replicas
// elect a leader through a Lease.
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { UsageError, parseCommandLine } from '../internal/cli';
import { validateAgentName } from '../shared/agent_config';
import { AgentIdStore } from '../modules/agent_registry/agent_ids';
import { AgentTokenStore } from '../modules/agent_registry/agent_tokens';
import { KAS_VERSION } from '../internal/version';
import { REGISTRY_HELP, REGISTRY_OPTIONS, checkAgentExists, registryFrom } from './admin';

export type AgentAccess = { kind: 'cluster-admin' } | { kind: 'namespaced'; namespaces: string[] };

export interface InstallManifestOptions {
  agent: string;
  kasAddress: string;
  token: string;
  namespace: string;
  access: AgentAccess;
  image: string;
  replicas: number;
  /** PEM bundle that signs kas's certificate, when it is not a public CA. */
  kasCaPem?: string;
}

export const DEFAULT_NAMESPACE = 'gitlab-agent';
export const DEFAULT_IMAGE = `agentk:${KAS_VERSION}`;
export const DEFAULT_REPLICAS = 2;
/** Where the Deployment mounts what agentk reads (agent/cmd/agentk.ts's flags point here). */
export const TOKEN_MOUNT = '/etc/agentk/secrets';
export const KAS_CA_MOUNT = '/etc/agentk/kas-ca';
export const OBSERVABILITY_PORT = 8080;

type KubeObject = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The objects, in the order kubectl must create them (namespace first). */
export function installManifestObjects(options: InstallManifestOptions): KubeObject[] {
  const names = namesFor(options);
  const labels = { 'app.kubernetes.io/name': 'agentk', 'app.kubernetes.io/instance': options.agent, 'app.kubernetes.io/managed-by': 'kas' };
  const meta = (name: string, namespace?: string) => ({ name, ...(namespace ? { namespace } : {}), labels });
  const ns = options.namespace;
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: meta(ns) },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(names.serviceAccount, ns) },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(names.tokenSecret, ns),
      type: 'Opaque',
      data: { token: Buffer.from(options.token).toString('base64') },
    },
  ];
  if (options.kasCaPem)
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(names.kasCa, ns), data: { 'ca.crt': options.kasCaPem } });
  objects.push(...rbacObjects(options, names, meta), deployment(options, names, labels));
  return objects;
}

export function renderInstallManifest(options: InstallManifestOptions): string {
  const header = `# agentk for agent "${options.agent}", kas ${options.kasAddress}. Apply with: kubectl apply -f <this file>\n# It holds the agent token: keep it out of version control.\n`;
  return (
    header +
    installManifestObjects(options)
      .map((o) => `---\n${stringify(o, { lineWidth: 0 })}`)
      .join('')
  );
}

interface Names {
  base: string;
  serviceAccount: string;
  tokenSecret: string;
  kasCa: string;
  lease: string;
}

function namesFor(options: InstallManifestOptions): Names {
  const base = `gitlab-agent-${options.agent}`;
  return { base, serviceAccount: base, tokenSecret: `${base}-token`, kasCa: `${base}-kas-ca`, lease: `${base}-leader` };
}

type Meta = (name: string, namespace?: string) => Record<string, unknown>;

const RBAC = 'rbac.authorization.k8s.io';

function rbacObjects(options: InstallManifestOptions, names: Names, meta: Meta): KubeObject[] {
  const subject = { kind: 'ServiceAccount', name: names.serviceAccount, namespace: options.namespace };
  // Every replica takes part in the leader election: the Lease in agentk's own namespace.
  const objects: KubeObject[] = [
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: meta(`${names.base}-leader-election`, options.namespace),
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] }],
    },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: meta(`${names.base}-leader-election`, options.namespace),
      roleRef: { apiGroup: RBAC, kind: 'Role', name: `${names.base}-leader-election` },
      subjects: [subject],
    },
  ];
  if (options.access.kind === 'cluster-admin') {
    objects.push({
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: meta(`${names.base}-cluster-admin`),
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [subject],
    });
    return objects;
  }
  for (const namespace of options.access.namespaces) {
    objects.push(
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'Role',
        metadata: meta(names.base, namespace),
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      },
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'RoleBinding',
        metadata: meta(names.base, namespace),
        roleRef: { apiGroup: RBAC, kind: 'Role', name: names.base },
        subjects: [subject],
      },
    );
  }
  return objects;
}

function deployment(options: InstallManifestOptions, names: Names, labels: Record<string, string>): KubeObject {
  const selector = { 'app.kubernetes.io/name': 'agentk', 'app.kubernetes.io/instance': options.agent };
  const volumes: KubeObject[] = [
    { name: 'token', secret: { secretName: names.tokenSecret, defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  const mounts: KubeObject[] = [
    { name: 'token', mountPath: TOKEN_MOUNT, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const args = [
    `--kas-address=${options.kasAddress}`,
    `--token-file=${TOKEN_MOUNT}/token`,
    `--observability-listen-address=:${OBSERVABILITY_PORT}`,
    `--leader-election-lease=${names.lease}`,
  ];
  if (options.kasCaPem) {
    volumes.push({ name: 'kas-ca', configMap: { name: names.kasCa } });
    mounts.push({ name: 'kas-ca', mountPath: KAS_CA_MOUNT, readOnly: true });
    args.push(`--ca-cert-file=${KAS_CA_MOUNT}/ca.crt`);
  }
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: 'observability' },
    initialDelaySeconds: 5,
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: names.base, namespace: options.namespace, labels },
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: selector },
      // A new replica is ready before an old one goes: the tunnel is never without a replica.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...labels, ...selector } },
        spec: {
          serviceAccountName: names.serviceAccount,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'agentk',
              image: options.image,
              args,
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'SERVICE_ACCOUNT_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
              ],
              ports: [{ name: 'observability', containerPort: OBSERVABILITY_PORT, protocol: 'TCP' }],
              livenessProbe: probe('/liveness', 10),
              readinessProbe: probe('/readiness', 5),
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** `cluster-admin` or `namespaced:<ns>,<ns>...`. */
export function parseAccess(value: string | undefined): AgentAccess {
  if (value === undefined || value === 'cluster-admin') return { kind: 'cluster-admin' };
  const match = /^namespaced:(.+)$/.exec(value);
  if (!match) throw new UsageError(`--access must be cluster-admin or namespaced:<namespace>[,<namespace>...], not "${value}"`);
  const namespaces = [...new Set(match[1]!.split(',').map((n) => n.trim()))];
  const bad = namespaces.find((n) => n.length > 63 || !DNS_LABEL.test(n));
  if (bad !== undefined) throw new UsageError(`--access: "${bad}" is not a namespace name (a DNS label)`);
  return { kind: 'namespaced', namespaces };
}

export function checkKasAddress(value: string | undefined): string {
  if (!value) throw new UsageError('missing --kas-address <grpcs://host:port | wss://host/path>');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--kas-address "${value}" is not a URL`);
  }
  // Plain grpc:// or ws:// would send the agent token in clear across the network.
  if (url.protocol !== 'grpcs:' && url.protocol !== 'wss:')
    throw new UsageError(`--kas-address must be grpcs:// or wss:// (TLS) for an agent in a cluster, not ${url.protocol}//`);
  return value;
}

function parseReplicas(value: string | undefined): number {
  if (value === undefined) return DEFAULT_REPLICAS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--replicas must be a whole number from 1 to 100, not "${value}"`);
  return n;
}

const SPEC = {
  name: 'kas agent install-manifest',
  summary: 'print the Kubernetes objects that run agentk for an agent (kubectl apply -f -)',
  usage:
    'kas agent install-manifest --agent <name> --kas-address <grpcs://...|wss://...> (--token-file <file> | --create-token (--config <kascfg> | --data-dir <dir>)) [--namespace gitlab-agent] [--access cluster-admin|namespaced:<ns,...>] [--image <ref>] [--replicas N] [--ca-file <pem>]',
  options: {
    ...REGISTRY_OPTIONS,
    agent: { type: 'string' },
    'kas-address': { type: 'string' },
    namespace: { type: 'string' },
    'token-file': { type: 'string' },
    'create-token': { type: 'boolean' },
    access: { type: 'string' },
    image: { type: 'string' },
    replicas: { type: 'string' },
    'ca-file': { type: 'string' },
  },
  help: {
    ...REGISTRY_HELP,
    agent: 'agent name (its folder .gitlab/agents/<name>/ in the config repository)',
    'kas-address': "kas's agent endpoint as the cluster reaches it: grpcs:// or wss://",
    namespace: `namespace for agentk (default ${DEFAULT_NAMESPACE})`,
    'token-file': 'file holding an agent token made earlier (kas token create)',
    'create-token': 'create a new token for the agent (needs --config or --data-dir; at most 2 active)',
    access: "agentk's own rights: cluster-admin (default, as the reference's chart) or namespaced:<ns,...> (a Role per namespace)",
    image: `agentk image (default ${DEFAULT_IMAGE}; build it from Dockerfile.agentk and push it to your registry)`,
    replicas: `agentk replicas (default ${DEFAULT_REPLICAS}; they elect a leader, all keep tunnels open)`,
    'ca-file': "PEM CA bundle that signs kas's certificate, when it is not a public CA",
  },
} as const;

async function tokenFor(values: {
  agent: string;
  'token-file'?: string;
  'create-token'?: boolean;
  config?: string;
  'data-dir'?: string;
}): Promise<{ token: string; note?: string }> {
  if (values['token-file'] && values['create-token']) throw new UsageError('give either --token-file or --create-token, not both');
  if (values['token-file']) {
    const token = (await readFile(values['token-file'], 'utf8')).trim();
    if (!token) throw new UsageError(`--token-file ${values['token-file']} is empty`);
    return { token };
  }
  if (!values['create-token']) throw new UsageError('give --token-file <file> or --create-token');
  const registry = await registryFrom(values);
  await checkAgentExists(values.agent, registry);
  const agentIds = new AgentIdStore(registry.dataDir);
  const { info, token } = await new AgentTokenStore(registry.dataDir, agentIds).create(
    values.agent,
    `install-${new Date().toISOString().slice(0, 10)}`,
  );
  return { token, note: `Created token "${info.name}" (id ${info.id}) for agent "${values.agent}"; it is in the manifest's Secret only.` };
}

/** `kas agent <action>`; writes the manifest to `out` and notes to `note`; resolves with the exit code. */
export async function runAgentCommand(argv: string[], out: (text: string) => void, note: (line: string) => void): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== 'install-manifest')
    throw new UsageError(`kas agent needs an action: install-manifest\nRun 'kas agent install-manifest --help' for usage.`);
  const { values } = parseCommandLine(SPEC, rest);
  const agent = values.agent ?? '';
  const problem = validateAgentName(agent);
  if (problem) throw new UsageError(values.agent === undefined ? 'missing --agent <name>' : problem);
  const namespace = values.namespace ?? DEFAULT_NAMESPACE;
  if (namespace.length > 63 || !DNS_LABEL.test(namespace))
    throw new UsageError(`--namespace "${namespace}" is not a namespace name (a DNS label)`);
  const options = {
    agent,
    kasAddress: checkKasAddress(values['kas-address']),
    namespace,
    access: parseAccess(values.access),
    image: values.image ?? DEFAULT_IMAGE,
    replicas: parseReplicas(values.replicas),
    kasCaPem: values['ca-file'] ? await readCa(values['ca-file']) : undefined,
  };
  const { token, note: created } = await tokenFor({ ...values, agent });
  out(renderInstallManifest({ ...options, token }));
  if (created) note(created);
  return 0;
}

async function readCa(file: string): Promise<string> {
  const pem = await readFile(file, 'utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-file ${file} holds no PEM certificate`);
  return pem;
}

/** The kustomize base deploy/agentk/ holds: the manifest of an agent named `main`, token and kas address as placeholders. */
export const KUSTOMIZE_BASE_AGENT = 'main';
export const PLACEHOLDER_KAS_ADDRESS = 'wss://kas.example.com/-/kubernetes-agent/';
const PLACEHOLDER_TOKEN = 'replace-with-the-agent-token';

/** The files of deploy/agentk/ (written by scripts/generate_deploy_agentk.ts, checked by a test). */
export function kustomizeBaseFiles(): Record<string, string> {
  const objects = installManifestObjects({
    agent: KUSTOMIZE_BASE_AGENT,
    kasAddress: PLACEHOLDER_KAS_ADDRESS,
    token: PLACEHOLDER_TOKEN,
    namespace: DEFAULT_NAMESPACE,
    access: { kind: 'cluster-admin' },
    image: DEFAULT_IMAGE,
    replicas: DEFAULT_REPLICAS,
  });
  const secret = objects.find((o) => o.kind === 'Secret')!;
  const secretMeta = secret.metadata as { name: string; namespace: string };
  const generated =
    '# Generated from agent/kas/install_manifest.ts by `npx tsx agent/devtools/generate_deploy_agentk.ts`: change it in an overlay.\n';
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['agentk.yaml'],
    // An overlay replaces it (behavior: replace) with the real token from a file.
    secretGenerator: [
      {
        name: secretMeta.name,
        namespace: secretMeta.namespace,
        literals: [`token=${PLACEHOLDER_TOKEN}`],
        options: { disableNameSuffixHash: true },
      },
    ],
    images: [{ name: DEFAULT_IMAGE.split(':')[0], newName: DEFAULT_IMAGE.split(':')[0], newTag: DEFAULT_IMAGE.split(':')[1] }],
  };
  return {
    'kustomization.yaml': generated + stringify(kustomization, { lineWidth: 0 }),
    'agentk.yaml':
      generated +
      objects
        .filter((o) => o !== secret)
        .map((o) => stringify(o, { lineWidth: 0 }))
        .join('---\n'),
  };
}
