// Entry point of `agentk`: dials kas, keeps the reverse tunnel open and serves the Kubernetes API
// through it. The agent token comes from --token-file or AGENTK_TOKEN (removed from the
// environment once read, so child processes and crash dumps do not carry it).
import { readFile } from 'node:fs/promises';
import { runAgentk } from '../agentk';
import { parseCommandLine, runMain, UsageError } from '../internal/cli';
import { createLogger, type LogLevel } from '../internal/log';

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
    'tunnel-transport': { type: 'string' },
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
    'tunnel-transport': 'grpc, or v2: also reverse HTTP/1.1 connections, which kas prefers when it offers them (default grpc)',
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

runMain(async () => {
  const { values } = parseCommandLine(spec, process.argv.slice(2));
  const kasAddress = values['kas-address'];
  if (!kasAddress) throw new UsageError("--kas-address is required. Run 'agentk --help' for usage.");
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const transport = values['tunnel-transport'] ?? 'grpc';
  if (transport !== 'grpc' && transport !== 'v2') throw new UsageError('--tunnel-transport must be grpc or v2');
  const logger = createLogger({ component: 'agentk' }, { level });
  const agentk = await runAgentk({
    kasAddress,
    token: await readToken(values['token-file']),
    caFile: values['ca-cert-file'],
    tlsServerName: values['tls-server-name'],
    kubeconfig: values.kubeconfig,
    kubeContext: values.context,
    observabilityAddress: values['observability-listen-address'] ?? ':8080',
    tunnelTransport: transport,
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
