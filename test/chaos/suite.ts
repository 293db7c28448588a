// Runs fault scenarios against the system under load and judges each: a crash, a request past its
// deadline, a long stream left hanging, memory or descriptors grown without bound, or more failed
// requests than were in flight on the process that died, fail it. Also greps every log and kas's
// data dir for every token the suite used (user, agent, CI job) and the private API secret.
// run.ts (npm run chaos) and the smoke test use it.
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inWindow, Load, summarize, type LoadSummary } from './load';
import { sleep, waitFor, type ProcSample } from './procs';
import type { Scenario } from './scenarios';
import { startStreams, WatchTicker } from './streams';
import { ChaosSystem } from './system';

const CONCURRENCY = 50;
/** kas waits up to 20 s for an agent; a request still unanswered after this hung. */
const DEADLINE_MS = 25_000;
/** A long stream silent this long after recovery hangs (both see a line every 2 s). */
const STREAM_SILENT_MS = 12_000;
const RSS_GROWTH_LIMIT_KIB = 100 * 1024;
const FD_GROWTH_LIMIT = 100;

export interface ScenarioResult {
  name: string;
  load: LoadSummary;
  streams: string[];
  samples: Array<{ name: string; before?: ProcSample; after?: ProcSample }>;
  crashes: string[];
  notes: string[];
  failures: string[];
}

export interface SuiteResult {
  results: ScenarioResult[];
  tokenLeaks: string[];
  dir: string;
}

export async function runSuite(scenarios: Scenario[], log: (line: string) => void = () => undefined): Promise<SuiteResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kas-chaos-'));
  const results: ScenarioResult[] = [];
  const tokenLeaks: string[] = [];
  for (const replicas of [false, true]) {
    const mine = scenarios.filter((s) => s.replicas === replicas);
    if (mine.length === 0) continue;
    const systemDir = path.join(dir, replicas ? 'replicas' : 'pair');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(systemDir, { recursive: true });
    const system = new ChaosSystem({ dir: systemDir, replicas });
    log(`starting the ${replicas ? 'replica' : 'local pair'} system in ${systemDir}`);
    const ticker = new WatchTicker(path.join(systemDir, 'pair', 'devcluster', 'kubeconfig'));
    let load: Load | undefined;
    try {
      await system.start();
      ticker.start();
      load = new Load({
        url: `${system.k8sProxyUrl}api/v1/namespaces/demo/pods`,
        token: system.tokens.proxyToken,
        caFile: system.caFile,
        concurrency: CONCURRENCY,
        deadlineMs: DEADLINE_MS,
      });
      const probe = load;
      await waitFor('a first request through the tunnel', async () => ((await probe.probe()) === 200 ? true : undefined), 60_000);
      load.start();
      for (const scenario of mine) {
        log(`scenario: ${scenario.name}`);
        const result = await runScenario(scenario, system, load);
        log(`  ${result.failures.length === 0 ? 'passed' : `FAILED: ${result.failures.join(' | ')}`}`);
        results.push(result);
      }
    } finally {
      ticker.stop();
      await load?.stop();
      await system.stop();
    }
    tokenLeaks.push(...grepTokens(system));
  }
  return { results, tokenLeaks, dir };
}

async function runScenario(scenario: Scenario, system: ChaosSystem, load: Load): Promise<ScenarioResult> {
  const streams = startStreams(system.userKubeconfig);
  await waitFor('both long streams to print', async () => (streams.every((s) => s.lines > 0) ? true : undefined), 30_000).catch(
    () => undefined,
  );
  const before = new Map(system.processes().map((p) => [p.name, p.sample()]));
  const crashesBefore = system.crashes().length;
  const from = Date.now();
  const failures: string[] = [];
  let info;
  try {
    info = await scenario.inject({ system, load });
  } catch (err) {
    info = { allowedFailures: 0, notes: [], failures: [`the scenario itself failed: ${(err as Error).message}`] };
  }
  failures.push(...info.failures);
  // A process that crashed is started again, as its supervisor would: the next scenarios need it.
  for (const proc of system.processes()) {
    if (proc.running || proc.crashes.length === 0) continue;
    info.notes.push(`${proc.name} crashed and was restarted`);
    await proc.restart().catch((err: Error) => failures.push(`${proc.name} did not restart: ${err.message}`));
  }
  // Recovery: requests succeed again (within 90 s), then the streams are watched a while longer.
  await waitFor('requests to succeed again', async () => ((await load.probe()) === 200 ? true : undefined), 90_000).catch(() =>
    failures.push('requests did not succeed again within 90 s'),
  );
  await sleep(STREAM_SILENT_MS + 2_000);
  const streamEnds = streams.map((s) => `${s.name}: ${s.describe(STREAM_SILENT_MS)}`);
  for (const s of streams) {
    if (s.judge(STREAM_SILENT_MS) === 'hang') failures.push(`${s.name} hung`);
    // Silent past a request's deadline and then going on: the fault went unnoticed (a stream
    // whose tunnel died should end with an error the client sees, or carry on).
    else if (s.longestSilenceMs > DEADLINE_MS) failures.push(`${s.name} stalled silently ${Math.round(s.longestSilenceMs / 1000)} s`);
  }
  await Promise.all(streams.map((s) => s.stop()));
  const to = Date.now();
  const summary = summarize(load.records, from, to, info.faultAt);
  const messages = Object.entries(summary.failedByMessage).map(([message, n]) => `${n}× ${message}`);
  if (messages.length > 0) info.notes.push(`failed answers: ${messages.join('; ')}`);
  const excused = new Set(info.excused ?? []);
  const excusedOne = load.records.filter(
    (r) => inWindow(r, from, to) && r.outcome !== 200 && !excused.has(String(r.outcome)) && info.excuse?.applies(r),
  ).length;
  if (excusedOne > 0) info.notes.push(`${excusedOne} requests not counted as failed: ${info.excuse!.why}`);
  const failed =
    Object.entries(summary.failedByOutcome)
      .filter(([outcome]) => !excused.has(outcome))
      .reduce((sum, [, n]) => sum + n, 0) - excusedOne;
  if (summary.hung > 0) failures.push(`${summary.hung} requests past their ${DEADLINE_MS / 1000} s deadline`);
  if (failed > info.allowedFailures)
    failures.push(`${failed} requests failed, more than the ${info.allowedFailures} in flight on what died`);
  const crashes = system.crashes().slice(crashesBefore);
  if (crashes.length > 0) failures.push(`crashed: ${crashes.join('; ')}`);
  const samples = system.processes().map((p) => ({ name: p.name, before: before.get(p.name), after: p.sample() }));
  for (const { name, before: b, after: a } of samples) {
    if (!b || !a) continue;
    if (a.rssKiB - b.rssKiB > RSS_GROWTH_LIMIT_KIB) failures.push(`${name} RSS grew ${Math.round((a.rssKiB - b.rssKiB) / 1024)} MiB`);
    if (a.fds - b.fds > FD_GROWTH_LIMIT) failures.push(`${name} open fds grew ${b.fds} → ${a.fds}`);
  }
  return { name: scenario.name, load: summary, streams: streamEnds, samples, crashes, notes: info.notes, failures };
}

/** What the grep looks for, named for its report: every credential the suite used, and the private API secret. */
export type Secret = [what: string, value: string];

function secretsOf(system: ChaosSystem): Secret[] {
  return [
    ['user token', system.tokens.userToken],
    ['agent token', system.tokens.agentToken],
    ['CI job token', system.tokens.ciJobToken],
    ...(system.privateApiSecret ? [['private API secret', system.privateApiSecret] as Secret] : []),
  ];
}

function grepTokens(system: ChaosSystem): string[] {
  return grepSecrets(system.logDir, path.join(system.dataDir, 'kas'), secretsOf(system));
}

/**
 * No secret in any log line (`*.log` in `logDir`) or in any file below `dataDir` (kas keeps
 * hashes only): one line per secret and file that holds it. An empty secret is a defect of the
 * caller (it would match everything), so it is reported rather than skipped.
 */
export function grepSecrets(logDir: string, dataDir: string, secrets: Secret[]): string[] {
  const files = [
    ...readdirSync(logDir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => path.join(logDir, f)),
    ...walk(dataDir),
  ];
  const leaks: string[] = secrets.filter(([, secret]) => secret === '').map(([what]) => `${what} is empty: nothing to look for`);
  for (const file of files) {
    const text = readFileSync(file, 'latin1');
    for (const [what, secret] of secrets) if (secret && text.includes(secret)) leaks.push(`${what} in ${file}`);
  }
  return leaks;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) out.push(...walk(file));
    else out.push(file);
  }
  return out;
}

const mib = (kib: number | undefined) => (kib === undefined ? '–' : `${Math.round(kib / 1024)}`);

/** The table of RELIABILITY.md: one row per scenario. */
export function markdownTable(suite: SuiteResult): string {
  const rows = suite.results.map((r) => {
    const failed = Object.entries(r.load.failedByOutcome)
      .map(([outcome, n]) => `${n}× ${outcome}`)
      .join(', ');
    const memory = r.samples.map((s) => `${s.name} ${mib(s.before?.rssKiB)}→${mib(s.after?.rssKiB)}`).join('<br>');
    const fds = r.samples.map((s) => `${s.name} ${s.before?.fds ?? '–'}→${s.after?.fds ?? '–'}`).join('<br>');
    const recovery = r.load.recoveryMs === undefined ? '–' : `${(r.load.recoveryMs / 1000).toFixed(1)} s`;
    const verdict = r.failures.length === 0 ? 'pass' : `**FAIL**: ${r.failures.join('; ')}`;
    return `| ${r.name} | ${r.load.sent} | ${failed || '0'} | ${recovery} | ${(r.load.maxLatencyMs / 1000).toFixed(1)} s | ${r.streams.join('<br>')} | ${memory} | ${fds} | ${r.crashes.join('; ') || 'none'} | ${verdict} |`;
  });
  return [
    '| scenario | requests sent | failed (by status) | until requests succeed again | max latency | long streams (how they ended) | RSS MiB before→after | open fds before→after | crash | verdict |',
    '| --- | ---: | --- | ---: | ---: | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

export function notesSection(suite: SuiteResult): string {
  return suite.results
    .filter((r) => r.notes.length > 0)
    .map((r) => `- **${r.name}**: ${r.notes.join(' · ')}`)
    .join('\n');
}
