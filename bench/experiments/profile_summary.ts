// Experiment (issue 14): what a role's CPU profile (BENCH_CPU_PROF_DIR) spends per request, by kind:
// synchronous socket writes (node's native write calls, which include the kernel's send), GC, the
// product's code (agent/), the bench's own (a bare layout's), libraries (node_modules), node's own
// JavaScript, the rest (startup compiling, other native calls); and the product's functions by
// self time. The roles run from one esbuild bundle: its `// <source path>` comments name each
// function's source file. Totals include the role's startup and warm-up: compare roles of one run.
// Run: npx tsx bench/experiments/profile_summary.ts <requests> <bundle.js> <profile.cpuprofile>...
import * as fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const NATIVE_WRITES = new Set(['writev', 'writeBuffer', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString']);

/** The source file of each line of the bundle, from esbuild's `// path` comments. */
function sourceOfLines(bundle: string): string[] {
  const sources: string[] = [];
  let current = '?';
  for (const line of fs.readFileSync(bundle, 'utf8').split('\n')) {
    const match = /^\/\/ (\S+\.(?:ts|js|mjs|cjs))$/.exec(line);
    if (match) current = match[1]!;
    sources.push(current);
  }
  return sources;
}

function kindOf(node: ProfileNode, source: string | undefined): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (!url && NATIVE_WRITES.has(functionName)) return 'socket writes';
  if (source?.startsWith('agent/')) return 'product';
  if (source?.startsWith('bench/')) return 'bench code';
  if (source?.includes('node_modules/')) return 'libraries';
  if (url.startsWith('node:')) return 'node';
  return 'other';
}

function summarize(file: string, requests: number, sources: string[]): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byKind = new Map<string, number>();
  const byProductFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    const source = node.callFrame.url.startsWith('file:') ? sources[node.callFrame.lineNumber] : undefined;
    const kind = kindOf(node, source);
    byKind.set(kind, (byKind.get(kind) ?? 0) + us);
    if (kind === 'product') {
      const name = `${source} ${node.callFrame.functionName || '(anonymous)'}`;
      byProductFunction.set(name, (byProductFunction.get(name) ?? 0) + us);
    }
  }
  const perRequest = (us: number) => (us / requests).toFixed(1);
  const busy = [...byKind].filter(([kind]) => kind !== 'idle').reduce((sum, [, us]) => sum + us, 0);
  const kinds = [...byKind].filter(([kind]) => kind !== 'idle').sort((a, b) => b[1] - a[1]);
  const top = [...byProductFunction].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return [
    `## ${file}: ${perRequest(busy)} µs busy per request; ` + kinds.map(([kind, us]) => `${kind} ${perRequest(us)}`).join(', '),
    ...top.map(([name, us]) => `- ${perRequest(us)} µs ${name}`),
  ].join('\n');
}

function main(): void {
  const [requests, bundle, ...profiles] = process.argv.slice(2);
  if (!requests || !bundle || profiles.length === 0) {
    throw new Error('usage: profile_summary.ts <requests> <bundle.js> <profile.cpuprofile>...');
  }
  const sources = sourceOfLines(bundle);
  for (const file of profiles) process.stdout.write(`${summarize(file, Number(requests), sources)}\n\n`);
}

main();
