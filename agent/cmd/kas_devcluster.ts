// Entry point of `kas-devcluster`: the embedded Kubernetes API server for development and tests.
import { parseCommandLine, runMain, UsageError } from '../internal/cli';
import { createLogger } from '../internal/log';
import { startDevCluster } from '../devtools/devcluster/index';

const spec = {
  name: 'kas-devcluster',
  summary: 'an embedded Kubernetes API server (HTTPS, bearer tokens) for development and tests',
  usage: 'kas-devcluster --port <p|0> --data-dir <dir> --kubeconfig-out <file> [--seed <file>] [--host 127.0.0.1]',
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    'kubeconfig-out': { type: 'string' },
    seed: { type: 'string' },
  },
  help: {
    port: 'Port to listen on; 0 picks a free one (default 0).',
    host: 'Address to listen on (default 127.0.0.1).',
    'data-dir': 'Directory for state, certificates and tokens; state survives restarts.',
    'kubeconfig-out': 'Where to write a kubeconfig for the admin user (context "devcluster").',
    seed: 'Multi-document YAML of namespaces, pods, ... loaded on first start.',
  },
} as const;

function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, not "${value}"`);
  return port;
}

runMain(async () => {
  const { values } = parseCommandLine(spec, process.argv.slice(2));
  const logger = createLogger({ component: 'kas-devcluster' });
  const cluster = await startDevCluster({
    port: parsePort(values.port),
    host: values.host,
    dataDir: values['data-dir'],
    kubeconfigOut: values['kubeconfig-out'],
    seedFile: values.seed,
    logger,
  });
  process.stdout.write(`dev cluster: ${cluster.url}\n`);
  if (cluster.kubeconfigPath) process.stdout.write(`kubeconfig: ${cluster.kubeconfigPath}\n`);
  const shutdown = (signal: string) => {
    logger.info('stopping', { signal });
    cluster.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('stop failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
});
