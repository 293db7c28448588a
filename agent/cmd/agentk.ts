// Entry point of `agentk`: dials kas, keeps the reverse tunnel open and serves the Kubernetes API
// through it. The agent token comes from --token-file or AGENTK_TOKEN (removed from the
// environment once read, so child processes and crash dumps do not carry it).
import { readFile } from 'node:fs/promises';
import { runAgentk } from '../agentk';
import { parseCommandLine, runMain, UsageError } from '../internal/cli';
import { createLogger, type LogLevel } from '../internal/log';
import { SERVICE_ACCOUNT_DIR } from '../agentk/in_cluster';
import { parseDuration } from '../shared/agent_config/go_duration';
import type { LeaderElectionSettings } from '../module/modagent';

const spec = {
  name: 'agentk',
  summary: 'the cluster-side agent: dials kas and serves the Kubernetes API through a reverse tunnel',
  usage: 'agentk --kas-address <grpc|grpcs|ws|wss://host:port> (--token-file <file> | env AGENTK_TOKEN) [options]',
  options: {
    'kas-address': { type: 'string' },
    'token-file': { type: 'string' },
    'ca-cert-file': { type: 'string' },
    'tls-server-name': { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    'observability-listen-address': { type: 'string' },
    'log-level': { type: 'string' },
    'service-account-dir': { type: 'string' },
    'leader-election': { type: 'string' },
    'leader-election-lease': { type: 'string' },
    'leader-election-lease-duration': { type: 'string' },
    'leader-election-renew-deadline': { type: 'string' },
    'leader-election-retry-period': { type: 'string' },
    'tunnel-transport': { type: 'string' },
    'agent-protocol': { type: 'string' },
  },
  help: {
    'kas-address': 'kas agent endpoint: grpc://, grpcs://, ws:// or wss:// (HTTPS_PROXY/NO_PROXY honoured)',
    'token-file': 'file holding the agent token (else env AGENTK_TOKEN)',
    'ca-cert-file': "PEM CA bundle that signs kas's certificate (default: system roots)",
    'tls-server-name': "verify kas's certificate for this name instead of the address host",
    kubeconfig: 'kubeconfig file (default: in-cluster account, else $KUBECONFIG / ~/.kube/config)',
    context: 'kubeconfig context (default: its current context)',
    'observability-listen-address': '/liveness, /readiness, /metrics listener (default :8080)',
    'log-level': 'debug, info, warn or error (default info)',
    'service-account-dir': `in-cluster: the mounted service account (token, ca.crt, namespace; default ${SERVICE_ACCOUNT_DIR})`,
    'leader-election': 'on or off (default: on in-cluster, off with a kubeconfig)',
    'leader-election-lease': 'the Lease in the pod namespace the replicas elect a leader with (default agentk-leader)',
    'leader-election-lease-duration': 'how long a Lease not renewed stays held (default 15s)',
    'leader-election-renew-deadline': 'the leader steps down when it cannot renew for this long (default 10s)',
    'leader-election-retry-period': 'how often each replica tries to take or renew the Lease (default 2s)',
    'tunnel-transport':
      'v2: reverse HTTP/1.1 connections beside the gRPC tunnel, which kas prefers when it offers them; grpc: the gRPC tunnel alone (default v2)',
    'agent-protocol':
      "workbench: our tunnel and configuration RPCs; reference: the GitLab agent's (its .proto services), gRPC tunnel only (default workbench)",
  },
} as const;

const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

async function readToken(tokenFile: string | undefined): Promise<string> {
  let token: string | undefined;
  if (tokenFile) token = (await readFile(tokenFile, 'utf8')).trim();
  else token = process.env.AGENTK_TOKEN?.trim();
  delete process.env.AGENTK_TOKEN;
  if (!token) throw new UsageError('no agent token: pass --token-file <file> or set AGENTK_TOKEN');
  return token;
}

function durationFlag(values: Record<string, unknown>, flag: string): number | undefined {
  const text = values[flag];
  if (text === undefined) return undefined;
  const ms = parseDuration(String(text));
  if (ms === undefined || ms <= 0) throw new UsageError(`--${flag} must be a duration such as 15s or 500ms, not "${String(text)}"`);
  return ms;
}

/** Only the flags given: the core fills in the reference's defaults. */
function leaderElectionFlags(values: Record<string, unknown>): Partial<LeaderElectionSettings> {
  const onOff = values['leader-election'];
  if (onOff !== undefined && onOff !== 'on' && onOff !== 'off') throw new UsageError('--leader-election must be on or off');
  const settings: Partial<LeaderElectionSettings> = {
    leaseName: values['leader-election-lease'] as string | undefined,
    leaseDurationMs: durationFlag(values, 'leader-election-lease-duration'),
    renewDeadlineMs: durationFlag(values, 'leader-election-renew-deadline'),
    retryPeriodMs: durationFlag(values, 'leader-election-retry-period'),
    enabled: onOff === undefined ? undefined : onOff === 'on',
  };
  const given = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as Partial<LeaderElectionSettings>;
  const lease = given.leaseDurationMs ?? 15_000;
  const renew = given.renewDeadlineMs ?? 10_000;
  if (renew >= lease) throw new UsageError('--leader-election-renew-deadline must be shorter than the lease duration');
  if ((given.retryPeriodMs ?? 2_000) >= renew)
    throw new UsageError('--leader-election-retry-period must be shorter than the renew deadline');
  return given;
}

runMain(async () => {
  const { values } = parseCommandLine(spec, process.argv.slice(2));
  const kasAddress = values['kas-address'];
  if (!kasAddress) throw new UsageError("--kas-address is required. Run 'agentk --help' for usage.");
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const protocol = values['agent-protocol'] ?? 'workbench';
  if (protocol !== 'workbench' && protocol !== 'reference') throw new UsageError('--agent-protocol must be workbench or reference');
  // The reference has only the gRPC tunnel: its protocol leaves out our reverse HTTP/1.1 transport.
  if (protocol === 'reference' && values['tunnel-transport'] === 'v2')
    throw new UsageError('--agent-protocol reference runs on the gRPC tunnel alone: leave out --tunnel-transport v2');
  const transport = protocol === 'reference' ? 'grpc' : (values['tunnel-transport'] ?? 'v2');
  if (transport !== 'grpc' && transport !== 'v2') throw new UsageError('--tunnel-transport must be grpc or v2');
  const logger = createLogger({ component: 'agentk' }, { level });
  const agentk = await runAgentk({
    kasAddress,
    token: await readToken(values['token-file']),
    caFile: values['ca-cert-file'],
    tlsServerName: values['tls-server-name'],
    kubeconfig: values.kubeconfig,
    kubeContext: values.context,
    serviceAccountDir: values['service-account-dir'],
    leaderElection: leaderElectionFlags(values),
    observabilityAddress: values['observability-listen-address'] ?? ':8080',
    collectWhenIdle: true, // this process is agentk's alone
    tunnelTransport: transport,
    agentProtocol: protocol,
    logger,
  });
  const shutdown = (signal: string) => {
    logger.info('stopping', { signal });
    agentk.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('stop failed', { err });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
});
