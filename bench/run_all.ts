// `npm run bench`: runs every benchmark section in turn and writes BENCHMARKS.md.
// Each bench/*.bench.ts exports `default async function run(): Promise<string>` returning a
// markdown section; sections measure against a peer in the same run and report medians and ratios.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
  const sections: string[] = [];
  for (const file of files) {
    process.stderr.write(`bench: ${file}\n`);
    const module = (await import(join(__dirname, file))) as { default: () => Promise<string> };
    const started = Date.now();
    const section = await module.default();
    process.stderr.write(`bench: ${file} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    sections.push(section.trim());
  }
  const header = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. Every figure is a median over the stated runs, ` +
      'with a peer measured in the same run.',
    '',
  ].join('\n');
  const text = `${header}\n${sections.join('\n\n')}\n`;
  if (only.length === 0) writeFileSync(join(__dirname, '..', 'BENCHMARKS.md'), text);
  process.stdout.write(text);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
