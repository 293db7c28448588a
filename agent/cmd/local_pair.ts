// Entry point of the local pair (`npm start`): the dev cluster, kas and agentk on loopback.
import path from 'node:path';
import { parseCommandLine, runMain } from '../internal/cli';
import { createLogger, type LogLevel } from '../internal/log';
import { startLocalPair, type LocalPair } from '../devtools/local_pair/index';
import { formatReadyLine } from '../shared/local_pair_ready';

const spec = {
  name: 'local-pair',
  summary: 'run the dev cluster (or a given cluster), kas and one agentk on loopback',
  usage:
    'npm start -- [--data-dir <dir>] [--kubeconfig-out <file>] [--cluster-kubeconfig <file> [--cluster-context <name>]] [--free-ports] [--json]',
  options: {
    'data-dir': { type: 'string' },
    'kubeconfig-out': { type: 'string' },
    'cluster-kubeconfig': { type: 'string' },
    'cluster-context': { type: 'string' },
    'free-ports': { type: 'boolean' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  help: {
    'data-dir': 'state kept across starts (default: .local-pair in the current folder)',
    'kubeconfig-out': 'where to write the kubeconfig whose server is the kas k8s proxy (default: <data-dir>/kubeconfig)',
    'cluster-kubeconfig': 'use this cluster instead of the embedded dev cluster',
    'cluster-context': 'context of --cluster-kubeconfig (default: its current context)',
    'free-ports': 'listen on free ports instead of the reference ports 8150/8151/8153/8154/8080',
    json: 'print one JSON line {"event":"ready",...} instead of the text summary (for the extension)',
    'log-level': 'debug, info, warn or error (default warn; logs go to stderr)',
  },
} as const;

function summary(pair: LocalPair): string {
  return [
    'Local pair is running (Ctrl-C stops it).',
    `  cluster:          ${pair.clusterUrl}`,
    `  kas agent:        grpc://${pair.agentAddress}`,
    `  kas k8s proxy:    ${pair.k8sProxyUrl}`,
    `  kas REST API:     ${pair.apiUrl}`,
    `  kas CA:           ${pair.caFile}`,
    `  agent:            ${pair.agentName} (id ${pair.agentId})`,
    `  user token:       ${pair.userToken}`,
    `  kubeconfig:       ${pair.kubeconfigPath}`,
    '',
    `Try: kubectl --kubeconfig ${pair.kubeconfigPath} get pods -A`,
    '',
  ].join('\n');
}

function readyEvent(pair: LocalPair): string {
  const { agentId, agentName, userToken, k8sProxyUrl, apiUrl, agentAddress, caFile, kubeconfigPath, clusterUrl } = pair;
  return formatReadyLine({
    agentId: String(agentId),
    agentName,
    userToken,
    k8sProxyUrl,
    apiUrl,
    agentAddress,
    caFile,
    kubeconfigPath,
    clusterUrl,
  });
}

/** Resolves on the first SIGINT/SIGTERM; a second one while stopping exits at once. */
function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without a clean stop\n`);
        process.exit(130);
      }
      stopping = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

runMain(async () => {
  const { values } = parseCommandLine(spec, process.argv.slice(2));
  const logger = createLogger({}, { level: (values['log-level'] as LogLevel | undefined) ?? 'warn' });
  // Listen before starting: a parent may signal as soon as it reads the ready line (or while we
  // start), and Node's default would kill the process without stopping the pair.
  const stopSignal = waitForStopSignal();
  const pair = await startLocalPair({
    dataDir: values['data-dir'] ?? path.join(process.cwd(), '.local-pair'),
    kubeconfigOut: values['kubeconfig-out'],
    clusterKubeconfig: values['cluster-kubeconfig'],
    clusterContext: values['cluster-context'],
    freePorts: values['free-ports'] ?? false,
    logger,
  });
  process.stdout.write(values.json ? readyEvent(pair) : summary(pair));
  const signal = await stopSignal;
  if (!values.json) process.stdout.write(`\n${signal}: stopping the local pair...\n`);
  await pair.stop();
  if (values.json) process.stdout.write(JSON.stringify({ event: 'stopped' }) + '\n');
});
