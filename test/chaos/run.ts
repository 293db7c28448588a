// `npm run chaos`: the fault suite (not part of npm test; test/chaos/chaos_smoke.test.ts is). Builds
// nothing itself (the npm script builds first), runs every scenario, writes the table into
// RELIABILITY.md and exits 1 when any scenario failed or a token leaked.
//   npm run chaos [-- <part of a scenario name>...]   (a subset does not rewrite RELIABILITY.md)
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { SCENARIOS } from './scenarios';
import { markdownTable, notesSection, runSuite } from './suite';
import { REPO_ROOT } from './system';

const BEGIN = '<!-- chaos:begin -->';
const END = '<!-- chaos:end -->';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const scenarios = only.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => only.some((o) => s.name.includes(o)));
  const started = Date.now();
  const suite = await runSuite(scenarios, (line) => process.stderr.write(`chaos: ${line}\n`));
  const failed = suite.results.filter((r) => r.failures.length > 0);
  const section = [
    BEGIN,
    `Last run: ${new Date().toISOString()}, ${cpus().length} cores, Node ${process.version}, ${Math.round((Date.now() - started) / 1000)} s; ` +
      `${suite.results.length - failed.length} of ${suite.results.length} scenarios passed.`,
    '',
    markdownTable(suite),
    '',
    'Details per scenario:',
    '',
    notesSection(suite),
    '',
    `Tokens in logs or kas's data dir: ${suite.tokenLeaks.length === 0 ? 'none found' : suite.tokenLeaks.join('; ')}.`,
    END,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (only.length === 0) {
    const file = path.join(REPO_ROOT, 'RELIABILITY.md');
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    writeFileSync(
      file,
      at >= 0 && end > at ? text.slice(0, at) + section + text.slice(end + END.length) : `${text.trimEnd()}\n\n${section}\n`,
    );
  }
  process.stderr.write(`chaos: logs in ${suite.dir}\n`);
  if (failed.length > 0 || suite.tokenLeaks.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
