// Command-line parsing shared by the agent-side programs: node:util parseArgs plus --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CommandSpec<T extends NonNullable<ParseArgsConfig['options']>> {
  name: string;
  summary: string;
  usage: string;
  options: T;
  /** One line of help per option, keyed by option name. */
  help: { [K in keyof T]: string };
  allowPositionals?: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(spec: CommandSpec<T>, argv: string[]) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(formatHelp(spec));
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options: spec.options, allowPositionals: spec.allowPositionals ?? false, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun '${spec.name} --help' for usage.`);
  }
}

export function formatHelp<T extends NonNullable<ParseArgsConfig['options']>>(spec: CommandSpec<T>): string {
  const lines = [`${spec.name}: ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:'];
  for (const [name, option] of Object.entries(spec.options)) {
    const flag = `--${name}${option.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${spec.help[name as keyof T]}`);
  }
  lines.push(`  ${'--help'.padEnd(30)} Show this help.`, '');
  return lines.join('\n');
}

/** Runs a program's main, turning errors into one clear line and exit code 1 (2 for usage). */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const error = err as Error;
    process.stderr.write(`${error.name === 'UsageError' ? 'usage error' : 'error'}: ${error.message}\n`);
    process.exit(error.name === 'UsageError' ? 2 : 1);
  });
}
