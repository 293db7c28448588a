// `kas agent install-manifest`: the command line around the install manifest's renderer
// (agent/modules/agent_registry/install_manifest.ts), printed for `kubectl apply -f -`.
import { readFile } from 'node:fs/promises';
import { UsageError, parseCommandLine } from '../internal/cli';
import { validateAgentName } from '../shared/agent_config';
import { AgentIdStore } from '../modules/agent_registry/agent_ids';
import { AgentTokenStore } from '../modules/agent_registry/agent_tokens';
import {
  DEFAULT_IMAGE,
  DEFAULT_NAMESPACE,
  DEFAULT_REPLICAS,
  DNS_LABEL,
  renderInstallManifest,
  type AgentAccess,
} from '../modules/agent_registry/install_manifest';
import { REGISTRY_HELP, REGISTRY_OPTIONS, checkAgentExists, registryFrom } from './admin';

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
