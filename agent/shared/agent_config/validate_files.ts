// `kas validate-config <file>...`: validates files for CI pipelines, one line per problem.
import { readFile, stat } from 'node:fs/promises';
import { parseAgentConfig } from './parse';

export const EXIT_CLEAN = 0;
export const EXIT_INVALID = 1;
export const EXIT_UNREADABLE = 2;

/**
 * Prints `file:line:col: severity: message` (1-based) for each diagnostic and returns the exit
 * code: 0 when clean (warnings allowed), 1 when any file has errors, 2 when any file could not
 * be read (which wins: a CI job must not pass a config it never saw).
 */
export async function validateConfigFiles(paths: string[], write: (line: string) => void): Promise<number> {
  let exitCode = EXIT_CLEAN;
  for (const path of paths) {
    const text = await readConfigText(path);
    if (typeof text !== 'string') {
      write(`${path}: error: ${text.problem}`);
      exitCode = EXIT_UNREADABLE;
      continue;
    }
    const { diagnostics } = parseAgentConfig(text, { fileName: path });
    for (const diagnostic of diagnostics) {
      const { line, character } = diagnostic.range.start;
      write(`${path}:${line + 1}:${character + 1}: ${diagnostic.severity}: ${diagnostic.message}`);
    }
    if (diagnostics.some((diagnostic) => diagnostic.severity === 'error') && exitCode === EXIT_CLEAN) exitCode = EXIT_INVALID;
  }
  return exitCode;
}

async function readConfigText(path: string): Promise<string | { problem: string }> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) return { problem: 'is a directory; give the config file (for example .gitlab/agents/<name>/config.yaml)' };
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? String(error)})` };
  }
}
