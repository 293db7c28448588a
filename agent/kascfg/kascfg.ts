// kascfg: the kas configuration file, in the reference kas's shape: its key names, defaults
// and duration forms ("7200s" as well as Go's "2h"). A reference key is honoured where this kas
// has the feature; where it does not, a value is refused with a message naming the key (a
// 'fixed' key is accepted when it asks for what this kas does anyway, so a file of reference
// defaults loads). Our own keys are registry.* (the embedded agent registry),
// kas.agent_wait_timeout, private_api.advertise_url and redis.tracker_* (the reference's
// agent.redis_conn_info_* are accepted as their other names), the agent port's
// handshake_timeout / authentication_timeout / max_unauthenticated_connections, every HTTP
// listener's read_header_timeout / idle_timeout, and kas.authentication_failures. See
// agent/kas/README.md.
// The file is validated as a whole at start: every problem is reported at once, with the
// file and line for YAML errors and the key path (plus line) for bad values.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDuration } from '../shared/agent_config/go_duration';
import { YAML_READ_OPTIONS } from '../shared/agent_config/yaml_options';
import { closestMatch } from '../shared/agent_config/suggest';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface TlsFiles {
  certificateFile: string;
  keyFile: string;
}

/** A listener's certificate and key, read from the files kascfg names. */
export async function readTlsFiles(files: TlsFiles | undefined): Promise<{ certPem: string; keyPem: string } | undefined> {
  if (!files) return undefined;
  const [certPem, keyPem] = await Promise.all([readFile(files.certificateFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  return { certPem, keyPem };
}

export interface RedisConfig {
  network: 'tcp' | 'unix';
  serverAddress?: string;
  sentinel?: { masterName: string; addresses: string[] };
  passwordFile?: string;
  keyPrefix: string;
  poolSize: number;
  database: number;
  /** How often a replica rewrites its tunnel tracker records, and how long they live without that. */
  trackerRefreshMs: number;
  trackerTtlMs: number;
  dialTimeoutMs: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
}

/** `<listener>.listen.read_header_timeout`, `idle_timeout` and `max_pending_connections` of an HTTP/1.1 listener (agent/internal/listen.ts). */
export interface HttpListenTimeouts {
  readHeaderTimeoutMs: number;
  idleTimeoutMs: number;
  maxPendingConnections: number;
}

/** kas.authentication_failures: failed credentials per client address and per agent id (agent_registry/auth_failures.ts). */
export interface AuthenticationFailuresConfig {
  /** Checks of tokens kas does not know as valid, in a window, after which each failure is answered late. */
  delayAfter: number;
  /** Such checks in a window after which unknown tokens are refused (429) until the window ends. */
  refuseAfter: number;
  windowMs: number;
  /** The longest a failure is answered late. */
  maxDelayMs: number;
}

export interface KasConfig {
  agent: {
    listen: {
      address: string;
      network: 'tcp' | 'tcp4' | 'tcp6';
      websocket: boolean;
      connectionsPerTokenPerMinute: number;
      maxConnectionAgeMs: number;
      listenGracePeriodMs: number;
      /** TLS, the HTTP/2 preface and SETTINGS (or the WebSocket upgrade) must be done this long after accept. */
      handshakeTimeoutMs: number;
      /** A connection on which kas accepted no call this long after accept is closed. */
      authenticationTimeoutMs: number;
      /** Connections waiting to authenticate at once; one accepted past it closes the oldest waiting. */
      maxUnauthenticatedConnections: number;
      tls?: TlsFiles;
    };
    configuration: { pollPeriodMs: number; maxConfigurationFileSize: number };
    kubernetesApi: { listen: { address: string; tls?: TlsFiles; timeouts: HttpListenTimeouts }; urlPathPrefix: string };
  };
  observability: { listen: { address: string; timeouts: HttpListenTimeouts } };
  api: { listen: { address: string; tls?: TlsFiles; timeouts: HttpListenTimeouts } };
  /** kas-to-kas listener; used only with redis (several replicas). */
  privateApi: {
    /** With tls the listener speaks HTTPS and the advertised URL defaults to https://. */
    listen: { address: string; tls?: TlsFiles; caCertificateFile?: string; timeouts: HttpListenTimeouts };
    advertiseUrl?: string;
    authenticationSecretFile?: string;
  };
  redis?: RedisConfig;
  registry: { configRepository: string; dataDir: string; projectId: string };
  kas: { agentWaitTimeoutMs: number; authenticationFailures: AuthenticationFailuresConfig };
}

export interface KasConfigIssue {
  /** Dotted key path, e.g. agent.listen.max_connection_age; empty for whole-file problems. */
  keyPath: string;
  /** 1-based line in the file, when known. */
  line?: number;
  message: string;
}

export class KasConfigError extends Error {
  override name = 'KasConfigError';
  constructor(
    readonly fileName: string,
    readonly issues: KasConfigIssue[],
  ) {
    super(`invalid kas configuration ${fileName}:\n` + issues.map((i) => formatIssue(fileName, i)).join('\n'));
  }
}

function formatIssue(fileName: string, issue: KasConfigIssue): string {
  const where = issue.line !== undefined ? `${fileName}:${issue.line}` : fileName;
  return `  ${where}: ${issue.keyPath ? issue.keyPath + ': ' : ''}${issue.message}`;
}

// Go-style durations ("300ms", "1m30s", "2h"), read as in the agent config's cron schedules.
export { parseDuration };

/** host:port, :port or [v6]:port; port 0 asks for a free port. */
export function parseListenAddress(address: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

// ---------- the schema ----------

type Check = (value: never) => string | undefined;
type FieldSpec =
  | { kind: 'section'; fields: Record<string, FieldSpec>; optional?: boolean }
  | { kind: 'string'; default?: string; check?: Check; oneOf?: string[] }
  | { kind: 'bool'; default: boolean }
  | { kind: 'int'; default: number; min: number }
  | { kind: 'duration'; default: string }
  | { kind: 'stringList' }
  /** A reference key (or section) this kas has no feature for: any value is refused, with why. */
  | { kind: 'unsupported'; reason: string }
  /** A reference key whose behaviour is fixed here: accepted only when it asks for just that. */
  | { kind: 'fixed'; value: string | boolean; duration?: boolean; reason: string };

const checkAddress = ((v: string) =>
  parseListenAddress(v) ? undefined : `"${v}" is not a listen address (host:port, :port or [ipv6]:port)`) as Check;
const checkPathPrefix = ((v: string) => (v.startsWith('/') ? undefined : `"${v}" must start with "/"`)) as Check;
const checkNonEmpty = ((v: string) => (v.trim() ? undefined : 'must not be empty')) as Check;

const section = (fields: Record<string, FieldSpec>, optional = false): FieldSpec => ({ kind: 'section', fields, optional });
const address = (value: string): FieldSpec => ({ kind: 'string', default: value, check: checkAddress });
const tlsFiles = (): Record<string, FieldSpec> => ({ certificate_file: { kind: 'string' }, key_file: { kind: 'string' } });
// Ours, on every HTTP listener (Go's http.Server names); defaults as DEFAULT_HTTP_TIMEOUTS in agent/internal/listen.ts.
const httpTimeouts = (): Record<string, FieldSpec> => ({
  read_header_timeout: { kind: 'duration', default: '10s' },
  idle_timeout: { kind: 'duration', default: '1m' },
  max_pending_connections: { kind: 'int', default: 1000, min: 1 },
});
const unsupported = (reason: string): FieldSpec => ({ kind: 'unsupported', reason });
const fixed = (value: string | boolean, reason: string): FieldSpec => ({ kind: 'fixed', value, reason });
const fixedDuration = (value: string, reason: string): FieldSpec => ({ kind: 'fixed', value, duration: true, reason });

const NO_NETWORK = 'this listener picks tcp4/tcp6 from its address; only agent.listen.network is configurable';
const NO_GRACE = 'this listener stops at once on shutdown (only agent.listen has a grace period)';
const NO_AGE = 'connections to this listener have no maximum age here';
const TLS_ON_OBSERVABILITY = 'the observability listener serves plain HTTP here';

const SCHEMA: FieldSpec = section({
  gitlab: unsupported('this kas has its own agent registry (registry.*) instead of a GitLab instance'),
  gitaly: unsupported('agent configs are read from the git repository registry.config_repository, not through Gitaly'),
  agent: section({
    listen: section({
      address: address('127.0.0.1:8150'),
      network: { kind: 'string', default: 'tcp', oneOf: ['tcp', 'tcp4', 'tcp6'] },
      websocket: { kind: 'bool', default: false },
      connections_per_token_per_minute: { kind: 'int', default: 40_000, min: 1 },
      max_connection_age: { kind: 'duration', default: '2h' },
      listen_grace_period: { kind: 'duration', default: '5s' },
      // Ours (agent/internal/connection_guard.ts): strangers cannot hold the port's descriptors.
      handshake_timeout: { kind: 'duration', default: '10s' },
      authentication_timeout: { kind: 'duration', default: '30s' },
      max_unauthenticated_connections: { kind: 'int', default: 500, min: 1 },
      ...tlsFiles(),
    }),
    // Ours: 1s, not the reference's 300s; new commits are also noticed at once from the ref files.
    configuration: section({
      poll_period: { kind: 'duration', default: '1s' },
      max_configuration_file_size: { kind: 'int', default: 128 * 1024, min: 1 },
    }),
    gitops: unsupported('the GitOps module was removed from the reference (GitLab 17.0) and does not exist here'),
    remote_development: unsupported('this kas has no remote development (workspaces) module'),
    info_cache_ttl: fixedDuration('5m', 'agent token lookups are cached for 5m here (and dropped at once when the token file changes)'),
    info_cache_error_ttl: fixedDuration('1m', 'failed agent token lookups are cached for 1m here'),
    redis_conn_info_ttl: { kind: 'duration', default: '5m' },
    redis_conn_info_refresh: { kind: 'duration', default: '4m' },
    redis_conn_info_gc: unsupported('tunnel tracker records expire in Redis by their TTL; there is nothing to collect'),
    kubernetes_api: section({
      listen: section({
        address: address(':8154'),
        ...tlsFiles(),
        ...httpTimeouts(),
        network: unsupported(NO_NETWORK),
        listen_grace_period: unsupported(NO_GRACE),
        shutdown_grace_period: unsupported('proxied requests are not drained on shutdown here'),
      }),
      url_path_prefix: { kind: 'string', default: '/', check: checkPathPrefix },
      allowed_agent_cache_ttl: unsupported('CI job tokens are checked against the local registry on every request; there is no cache'),
      allowed_agent_cache_error_ttl: unsupported(
        'CI job tokens are checked against the local registry on every request; there is no cache',
      ),
    }),
  }),
  observability: section({
    listen: section({
      address: address('127.0.0.1:8151'),
      ...httpTimeouts(),
      network: unsupported(NO_NETWORK),
      certificate_file: unsupported(TLS_ON_OBSERVABILITY),
      key_file: unsupported(TLS_ON_OBSERVABILITY),
    }),
    usage_reporting_period: unsupported('this kas reports no usage metrics to a GitLab'),
    prometheus: section({ url_path: fixed('/metrics', 'metrics are served at /metrics') }),
    liveness_probe: section({ url_path: fixed('/liveness', 'the liveness probe is served at /liveness') }),
    readiness_probe: section({ url_path: fixed('/readiness', 'the readiness probe is served at /readiness') }),
    tracing: unsupported('this kas exports no traces'),
    sentry: section({
      dsn: fixed('', 'this kas reports no errors to Sentry'),
      environment: fixed('', 'this kas reports no errors to Sentry'),
    }),
    logging: section({
      level: fixed('info', 'kas logs at level info'),
      grpc_level: fixed('error', 'the gRPC library logs errors only'),
    }),
    google_profiler: section({
      enabled: fixed(false, 'this kas has no Google Cloud Profiler'),
      project_id: unsupported('this kas has no Google Cloud Profiler'),
      credentials_file: unsupported('this kas has no Google Cloud Profiler'),
      debug_logging: unsupported('this kas has no Google Cloud Profiler'),
    }),
  }),
  api: section({
    listen: section({
      address: address('127.0.0.1:8153'),
      ...tlsFiles(),
      ...httpTimeouts(),
      authentication_secret_file: unsupported('the REST API on this listener authenticates each user by their token'),
      network: unsupported(NO_NETWORK),
      max_connection_age: unsupported(NO_AGE),
      listen_grace_period: unsupported(NO_GRACE),
    }),
  }),
  private_api: section({
    listen: section({
      address: address('127.0.0.1:8155'),
      ...tlsFiles(),
      ...httpTimeouts(),
      ca_certificate_file: { kind: 'string', check: checkNonEmpty },
      authentication_secret_file: { kind: 'string', check: checkNonEmpty },
      network: unsupported(NO_NETWORK),
      max_connection_age: unsupported(NO_AGE),
      listen_grace_period: unsupported(NO_GRACE),
    }),
    advertise_url: { kind: 'string', check: checkNonEmpty },
    authentication_secret_file: { kind: 'string', check: checkNonEmpty },
  }),
  redis: section(
    {
      network: { kind: 'string', default: 'tcp', oneOf: ['tcp', 'unix'] },
      server: section({ address: { kind: 'string', check: checkNonEmpty } }, true),
      sentinel: section(
        {
          master_name: { kind: 'string', check: checkNonEmpty },
          addresses: { kind: 'stringList' },
          sentinel_password_file: unsupported('Sentinel connections use no password here'),
        },
        true,
      ),
      password_file: { kind: 'string' },
      username: unsupported('Redis is reached with a password only (no ACL user name)'),
      tls: unsupported('Redis is reached without TLS here'),
      key_prefix: { kind: 'string', default: 'gitlab-kas' },
      pool_size: { kind: 'int', default: 10, min: 1 },
      database: { kind: 'int', default: 0, min: 0 },
      database_index: { kind: 'int', default: 0, min: 0 },
      dial_timeout: { kind: 'duration', default: '5s' },
      read_timeout: { kind: 'duration', default: '1s' },
      write_timeout: { kind: 'duration', default: '3s' },
      idle_timeout: unsupported('idle Redis connections are not closed here'),
      tracker_refresh_period: { kind: 'duration', default: '4m' },
      tracker_ttl: { kind: 'duration', default: '5m' },
    },
    true,
  ),
  registry: section({
    config_repository: { kind: 'string', check: checkNonEmpty },
    data_dir: { kind: 'string', check: checkNonEmpty },
    project_id: { kind: 'string', default: 'local/agents', check: checkNonEmpty },
  }),
  kas: section({
    agent_wait_timeout: { kind: 'duration', default: '20s' },
    authentication_failures: section({
      delay_after: { kind: 'int', default: 5, min: 1 },
      refuse_after: { kind: 'int', default: 20, min: 1 },
      window: { kind: 'duration', default: '1m' },
      max_delay: { kind: 'duration', default: '1s' },
    }),
  }),
});

// ---------- validation ----------

type Values = Map<string, string | number | boolean | string[]>;

interface WalkState {
  issues: KasConfigIssue[];
  values: Values;
  present: Set<string>;
  lineOf: (node: YamlNode | undefined) => number | undefined;
}

/** Parses kascfg text; throws KasConfigError listing every problem. */
export function parseKasConfig(text: string, fileName = 'kascfg.yaml'): KasConfig {
  const lineCounter = new LineCounter();
  // YAML 1.1 like the agent config: the reference reads both files with the same YAML reader.
  const doc = parseDocument(text, { ...YAML_READ_OPTIONS, lineCounter });
  if (doc.errors.length > 0) {
    throw new KasConfigError(
      fileName,
      doc.errors.map((e) => ({ keyPath: '', line: lineCounter.linePos(e.pos[0]).line, message: e.message.split('\n')[0]! })),
    );
  }
  const state: WalkState = {
    issues: [],
    values: new Map(),
    present: new Set(),
    lineOf: (node) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined),
  };
  const root = doc.contents ?? undefined;
  if (root !== undefined && !(isScalar(root) && root.value === null) && !isMap(root)) {
    throw new KasConfigError(fileName, [
      { keyPath: '', line: state.lineOf(root as YamlNode), message: 'the file must be a mapping of settings' },
    ]);
  }
  walkSection(SCHEMA as Extract<FieldSpec, { kind: 'section' }>, isMap(root) ? root : undefined, '', state);
  const config = buildConfig(state, path.dirname(path.resolve(fileName)));
  if (!config || state.issues.length > 0) throw new KasConfigError(fileName, state.issues);
  return config;
}

export async function loadKasConfig(fileName: string): Promise<KasConfig> {
  let text: string;
  try {
    text = await readFile(fileName, 'utf8');
  } catch (err) {
    throw new KasConfigError(fileName, [{ keyPath: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseKasConfig(text, fileName);
}

function walkSection(spec: Extract<FieldSpec, { kind: 'section' }>, node: YamlNode | undefined, prefix: string, state: WalkState): void {
  const seen = new Map<string, YamlNode | undefined>();
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const keyPath = prefix + key;
      if (!(key in spec.fields)) {
        state.issues.push({ keyPath, line: state.lineOf(pair.key as YamlNode), message: unknownKeyMessage(key, Object.keys(spec.fields)) });
        continue;
      }
      seen.set(key, (pair.value ?? undefined) as YamlNode | undefined);
    }
  }
  for (const [key, fieldSpec] of Object.entries(spec.fields)) {
    walkField(fieldSpec, seen.get(key), seen.has(key), prefix + key, state);
  }
}

function walkField(spec: FieldSpec, node: YamlNode | undefined, present: boolean, keyPath: string, state: WalkState): void {
  const isNull = !node || (isScalar(node) && node.value === null);
  if (present && !isNull) state.present.add(keyPath);
  if (spec.kind === 'unsupported') {
    if (!isNull) state.issues.push({ keyPath, line: state.lineOf(node), message: `not supported here: ${spec.reason}` });
    return;
  }
  if (spec.kind === 'section') {
    if (!isNull && !isMap(node)) {
      state.issues.push({ keyPath, line: state.lineOf(node), message: 'must be a mapping' });
      return;
    }
    walkSection(spec, isNull ? undefined : node, keyPath + '.', state);
    return;
  }
  if (isNull) {
    applyDefault(spec, keyPath, state);
    return;
  }
  const problem = readValue(spec, node, keyPath, state);
  if (problem) state.issues.push({ keyPath, line: state.lineOf(node), message: problem });
}

type ValueSpec = Exclude<FieldSpec, { kind: 'section' } | { kind: 'unsupported' }>;

function applyDefault(spec: ValueSpec, keyPath: string, state: WalkState): void {
  if (spec.kind === 'fixed') return;
  if (spec.kind === 'duration') state.values.set(keyPath, parseDuration(spec.default)!);
  else if (spec.kind === 'stringList') state.values.set(keyPath, []);
  else if (spec.default !== undefined) state.values.set(keyPath, spec.default);
}

/** Stores the value of a scalar field; returns a problem description instead when it is bad. */
function readValue(spec: ValueSpec, node: YamlNode | undefined, keyPath: string, state: WalkState): string | undefined {
  if (spec.kind === 'stringList') {
    if (!isSeq(node) || !node.items.every((i) => isScalar(i) && typeof i.value === 'string')) return 'must be a list of strings';
    state.values.set(
      keyPath,
      node.items.map((i) => String((i as { value: unknown }).value)),
    );
    return undefined;
  }
  const value: unknown = isScalar(node) ? node.value : undefined;
  switch (spec.kind) {
    case 'fixed':
      return fixedValueProblem(spec, value);
    case 'string': {
      if (typeof value !== 'string') return 'must be a string';
      if (spec.oneOf && !spec.oneOf.includes(value)) return `"${value}" is not one of ${spec.oneOf.join(', ')}`;
      const problem = spec.check?.(value as never);
      if (!problem) state.values.set(keyPath, value);
      return problem;
    }
    case 'bool':
      if (typeof value !== 'boolean') return 'must be true or false';
      state.values.set(keyPath, value);
      return undefined;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min) return `must be an integer >= ${spec.min}`;
      state.values.set(keyPath, value);
      return undefined;
    case 'duration': {
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      if (ms === undefined) return `${JSON.stringify(value)} is not a duration (use Go-style strings such as "300ms", "20s", "2h")`;
      state.values.set(keyPath, ms);
      return undefined;
    }
  }
}

function fixedValueProblem(spec: Extract<FieldSpec, { kind: 'fixed' }>, value: unknown): string | undefined {
  const same =
    spec.duration === true
      ? typeof value === 'string' && parseDuration(value) === parseDuration(spec.value as string)
      : value === spec.value;
  return same
    ? undefined
    : `${JSON.stringify(value)} is not supported here: ${spec.reason} (give ${JSON.stringify(spec.value)} or leave it out)`;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const closest = closestMatch(key, known);
  return `unknown key "${key}"${closest ? `; did you mean "${closest}"?` : ''} (known here: ${known.join(', ')})`;
}

// ---------- typed result ----------

/**
 * The value of a key that has two names (the reference's and ours): whichever the file gives,
 * and a problem when it gives both. Undefined-valued keys fall back to the first name's default.
 */
function eitherName(state: WalkState, names: [string, string]): unknown {
  const given = names.filter((name) => state.present.has(name));
  if (given.length > 1) state.issues.push({ keyPath: names[1], message: `give only one of ${names[0]} or ${names[1]} (the same setting)` });
  return state.values.get(given[0] ?? names[0]);
}

function buildConfig(state: WalkState, baseDir: string): KasConfig | undefined {
  const v = state.values;
  const str = (k: string) => v.get(k) as string;
  const optStr = (k: string) => v.get(k) as string | undefined;
  const num = (k: string) => v.get(k) as number;
  const timeouts = (prefix: string): HttpListenTimeouts => ({
    readHeaderTimeoutMs: num(`${prefix}.read_header_timeout`),
    idleTimeoutMs: num(`${prefix}.idle_timeout`),
    maxPendingConnections: num(`${prefix}.max_pending_connections`),
  });
  const resolvePath = (p: string) => path.resolve(baseDir, p);
  const optionalPath = (p: unknown) => (typeof p === 'string' ? resolvePath(p) : undefined);
  const tls = (prefix: string): TlsFiles | undefined => {
    const cert = optStr(`${prefix}.certificate_file`);
    const key = optStr(`${prefix}.key_file`);
    if (cert === undefined && key === undefined) return undefined;
    if (cert === undefined || key === undefined) {
      state.issues.push({ keyPath: prefix, message: 'certificate_file and key_file must be given together' });
      return undefined;
    }
    return { certificateFile: resolvePath(cert), keyFile: resolvePath(key) };
  };
  for (const required of ['registry.config_repository', 'registry.data_dir']) {
    if (!v.has(required)) state.issues.push({ keyPath: required, message: 'is required' });
  }
  const config: KasConfig = {
    agent: {
      listen: {
        address: str('agent.listen.address'),
        network: str('agent.listen.network') as KasConfig['agent']['listen']['network'],
        websocket: v.get('agent.listen.websocket') as boolean,
        connectionsPerTokenPerMinute: num('agent.listen.connections_per_token_per_minute'),
        maxConnectionAgeMs: num('agent.listen.max_connection_age'),
        listenGracePeriodMs: num('agent.listen.listen_grace_period'),
        handshakeTimeoutMs: num('agent.listen.handshake_timeout'),
        authenticationTimeoutMs: num('agent.listen.authentication_timeout'),
        maxUnauthenticatedConnections: num('agent.listen.max_unauthenticated_connections'),
        tls: tls('agent.listen'),
      },
      configuration: {
        pollPeriodMs: num('agent.configuration.poll_period'),
        maxConfigurationFileSize: num('agent.configuration.max_configuration_file_size'),
      },
      kubernetesApi: {
        listen: {
          address: str('agent.kubernetes_api.listen.address'),
          tls: tls('agent.kubernetes_api.listen'),
          timeouts: timeouts('agent.kubernetes_api.listen'),
        },
        urlPathPrefix: str('agent.kubernetes_api.url_path_prefix'),
      },
    },
    observability: { listen: { address: str('observability.listen.address'), timeouts: timeouts('observability.listen') } },
    api: { listen: { address: str('api.listen.address'), tls: tls('api.listen'), timeouts: timeouts('api.listen') } },
    privateApi: {
      listen: {
        address: str('private_api.listen.address'),
        tls: tls('private_api.listen'),
        caCertificateFile:
          optStr('private_api.listen.ca_certificate_file') === undefined
            ? undefined
            : resolvePath(str('private_api.listen.ca_certificate_file')),
        timeouts: timeouts('private_api.listen'),
      },
      advertiseUrl: optStr('private_api.advertise_url'),
      authenticationSecretFile: optionalPath(
        eitherName(state, ['private_api.listen.authentication_secret_file', 'private_api.authentication_secret_file']),
      ),
    },
    redis: state.present.has('redis') ? buildRedis(state) : undefined,
    registry: {
      configRepository: resolvePath(optStr('registry.config_repository') ?? '.'),
      dataDir: resolvePath(optStr('registry.data_dir') ?? '.'),
      projectId: str('registry.project_id'),
    },
    kas: {
      agentWaitTimeoutMs: num('kas.agent_wait_timeout'),
      authenticationFailures: {
        delayAfter: num('kas.authentication_failures.delay_after'),
        refuseAfter: num('kas.authentication_failures.refuse_after'),
        windowMs: num('kas.authentication_failures.window'),
        maxDelayMs: num('kas.authentication_failures.max_delay'),
      },
    },
  };
  if (config.redis && config.redis.trackerRefreshMs >= config.redis.trackerTtlMs) {
    state.issues.push({
      keyPath: 'redis.tracker_refresh_period',
      message: 'must be shorter than redis.tracker_ttl (agent.redis_conn_info_refresh and _ttl are the same settings)',
    });
  }
  checkPositive(state, [
    'agent.listen.handshake_timeout',
    'agent.listen.authentication_timeout',
    'kas.authentication_failures.window',
    ...['agent.kubernetes_api.listen', 'observability.listen', 'api.listen', 'private_api.listen'].flatMap((p) => [
      `${p}.read_header_timeout`,
      `${p}.idle_timeout`,
    ]),
  ]);
  if (config.kas.authenticationFailures.refuseAfter < config.kas.authenticationFailures.delayAfter)
    state.issues.push({ keyPath: 'kas.authentication_failures.refuse_after', message: 'must not be less than delay_after' });
  if (config.agent.configuration.pollPeriodMs <= 0)
    state.issues.push({ keyPath: 'agent.configuration.poll_period', message: 'must be greater than 0' });
  return state.issues.length === 0 ? config : undefined;
}

/** Timeouts of 0 would turn a protection off: refused. */
function checkPositive(state: WalkState, keys: string[]): void {
  for (const key of keys) {
    if ((state.values.get(key) as number) <= 0) state.issues.push({ keyPath: key, message: 'must be greater than 0' });
  }
}

function buildRedis(state: WalkState): RedisConfig | undefined {
  const v = state.values;
  const hasServer = state.present.has('redis.server');
  const hasSentinel = state.present.has('redis.sentinel');
  if (hasServer === hasSentinel) {
    state.issues.push({ keyPath: 'redis', message: 'give exactly one of redis.server or redis.sentinel' });
    return undefined;
  }
  if (hasServer && !v.has('redis.server.address')) state.issues.push({ keyPath: 'redis.server.address', message: 'is required' });
  const sentinelAddresses = (v.get('redis.sentinel.addresses') as string[] | undefined) ?? [];
  if (hasSentinel && (!v.has('redis.sentinel.master_name') || sentinelAddresses.length === 0)) {
    state.issues.push({ keyPath: 'redis.sentinel', message: 'master_name and at least one address are required' });
  }
  return {
    network: v.get('redis.network') as RedisConfig['network'],
    serverAddress: v.get('redis.server.address') as string | undefined,
    sentinel: hasSentinel ? { masterName: v.get('redis.sentinel.master_name') as string, addresses: sentinelAddresses } : undefined,
    passwordFile: v.get('redis.password_file') as string | undefined,
    keyPrefix: v.get('redis.key_prefix') as string,
    poolSize: v.get('redis.pool_size') as number,
    database: eitherName(state, ['redis.database_index', 'redis.database']) as number,
    dialTimeoutMs: v.get('redis.dial_timeout') as number,
    readTimeoutMs: v.get('redis.read_timeout') as number,
    writeTimeoutMs: v.get('redis.write_timeout') as number,
    trackerRefreshMs: eitherName(state, ['agent.redis_conn_info_refresh', 'redis.tracker_refresh_period']) as number,
    trackerTtlMs: eitherName(state, ['agent.redis_conn_info_ttl', 'redis.tracker_ttl']) as number,
  };
}
