// The Kubernetes objects that run agentk in a cluster, as one multi-document YAML for
// `kubectl apply -f -`: what `kas agent install-manifest` prints, what the REST API's
// install endpoint returns (Connect a Cluster in the extension), and, with placeholders, the
// kustomize base deploy/agentk/. Shaped after the reference's agentk Helm chart: a namespace, a
// service account, the token in a Secret (mounted as a file, never an env var), cluster-admin by
// default or a Role per listed namespace, and a Deployment whose replicas elect a leader
// through a Lease.
import { stringify } from 'yaml';
import { KAS_VERSION } from '../../internal/version';

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

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

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
    '# Generated from agent/modules/agent_registry/install_manifest.ts by `npx tsx agent/devtools/generate_deploy_agentk.ts`: change it in an overlay.\n';
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
