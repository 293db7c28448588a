// Entry point of `kas`: the server (default) and the registry's admin commands.
//   kas [serve] --config <kascfg.yaml>
//   kas token create|list|revoke ...       agent tokens (hashes only at rest)
//   kas user-token create|list|revoke ...  user and CI job tokens for the Kubernetes API proxy
//   kas validate-config <file>...          check agent config.yaml files
//   kas agent install-manifest ...         the objects that run agentk in a cluster
import { UsageError, parseCommandLine, runMain } from '../internal/cli';
import { createLogger } from '../internal/log';
import { runAdminCommand } from '../kas/admin';
import { runAgentCommand } from '../kas/install_manifest';
import { startKas } from '../kas/index';

const TOP_HELP = `kas: the Kubernetes agent server

Usage:
  kas [serve] --config <kascfg.yaml>       run kas
  kas token <create|list|revoke> ...       manage agent tokens
  kas user-token <create|list|revoke> ...  manage user and CI job tokens
  kas validate-config <file>...            validate agent config.yaml files
  kas agent install-manifest ...           print the YAML that installs agentk in a cluster

Run 'kas <command> --help' for a command's options.
`;

async function serve(argv: string[]): Promise<void> {
  const { values } = parseCommandLine(
    {
      name: 'kas serve',
      summary: 'run kas',
      usage: 'kas [serve] --config <kascfg.yaml>',
      options: { config: { type: 'string' } },
      help: { config: 'kas configuration file (kascfg)' },
    },
    argv,
  );
  if (!values.config) throw new UsageError("missing --config <kascfg.yaml>\nRun 'kas --help' for usage.");
  const logger = createLogger({ component: 'kas' });
  const kas = await startKas(values.config, logger);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      logger.info('stopping', { signal });
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      resolve();
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
  await kas.stop();
}

runMain(async () => {
  const argv = process.argv.slice(2);
  const command = argv[0];
  if (command === undefined || command.startsWith('-')) {
    if (command === '--help' || command === '-h') {
      process.stdout.write(TOP_HELP);
      return;
    }
    await serve(argv);
    return;
  }
  if (command === 'serve') {
    await serve(argv.slice(1));
    return;
  }
  if (command === 'agent') {
    const note = (line: string) => process.stderr.write(line + '\n');
    process.exitCode = await runAgentCommand(argv.slice(1), (text) => process.stdout.write(text), note);
    return;
  }
  process.exitCode = await runAdminCommand(command, argv.slice(1), (line) => process.stdout.write(line + '\n'));
});
