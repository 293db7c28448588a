// The faults of `npm run chaos`, each injected into a running system under load (suite.ts runs
// them and judges). A scenario returns when its fault is over (a restart done, a hold ended) and
// says what was in flight on a process that died, plus failures of its own checks.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { DEFAULT_CONNECTION_GUARD } from '../../agent/internal/connection_guard';
import { DEFAULT_HTTP_TIMEOUTS } from '../../agent/internal/listen';
import type { Load, RequestRecord } from './load';
import { sleep, waitFor, type Proc } from './procs';
import {
  badInputs,
  connectWithToken,
  exchange,
  fuzzTunnel,
  HEADER_BLOCK_REFUSED,
  HeldSockets,
  requestWithAuthorization,
  tokenShapes,
  type Listener,
} from './hostile';
import { fdCensus, HELD_SOCKETS_ADDRESS, HeldByKas } from './kas_sockets';
import type { ChaosSystem } from './system';

export interface FaultInfo {
  faultAt?: number;
  /** Requests in flight on the process that died, at the moment it died: the most that may fail. */
  allowedFailures: number;
  /** Outcomes not counted as failures (ECONNREFUSED while the only kas users reach is down). */
  excused?: string[];
  /** Single requests not counted as failures, and why (said in the notes). */
  excuse?: { why: string; applies(record: RequestRecord): boolean };
  notes: string[];
  /** Checks of the scenario itself that failed (a held socket, an accepted bad token, ...). */
  failures: string[];
}

export interface ScenarioContext {
  system: ChaosSystem;
  load: Load;
}

export interface Scenario {
  name: string;
  replicas: boolean;
  inject(ctx: ScenarioContext): Promise<FaultInfo>;
}

const HOLD_MS = 30_000;
/** kas's agent.kubernetes_api wait for a tunnel (the default; the suite's kascfg sets none). */
const AGENT_WAIT_MS = 20_000;
/** A bad input's answer (or close) must come within this; else the socket is held. */
const ANSWER_WAIT_MS = 15_000;

function listeners(system: ChaosSystem, withPrivateApi: boolean): Listener[] {
  const list: Listener[] = [];
  for (const [i, ports] of system.kasPorts.entries()) {
    const suffix = system.kasPorts.length > 1 ? ` (kas-${i + 1})` : '';
    list.push(
      { name: `k8s proxy${suffix}`, port: ports.k8sProxy, tls: true },
      { name: `REST API${suffix}`, port: ports.api, tls: false },
      { name: `observability${suffix}`, port: ports.observability, tls: false },
      { name: `agent port${suffix}`, port: ports.agent, tls: false },
    );
    if (withPrivateApi && ports.privateApi) list.push({ name: `private API${suffix}`, port: ports.privateApi, tls: false });
    if (withPrivateApi) break; // replica mode: the first replica's listeners are enough
  }
  return list;
}

async function killAndRestart(proc: Proc, load: Load, restartDelayMs: number): Promise<{ faultAt: number; inFlight: number }> {
  const inFlight = load.inFlightCount();
  const faultAt = Date.now();
  await proc.kill9();
  await sleep(restartDelayMs);
  await proc.restart();
  return { faultAt, inFlight };
}

const killAgentk: Scenario = {
  name: 'kill -9 agentk, restart',
  replicas: false,
  async inject({ system, load }) {
    const { faultAt, inFlight } = await killAndRestart(system.agentk, load, 500);
    return { faultAt, allowedFailures: inFlight, notes: [`${inFlight} in flight at the kill`], failures: [] };
  },
};

const killKas: Scenario = {
  name: 'kill -9 kas, restart (same data)',
  replicas: false,
  async inject({ system, load }) {
    const { faultAt, inFlight } = await killAndRestart(system.kas[0]!, load, 500);
    return {
      faultAt,
      allowedFailures: inFlight,
      excused: ['ECONNREFUSED'],
      notes: [`${inFlight} in flight at the kill; refused connections while kas was down are not counted`],
      failures: [],
    };
  },
};

const freezeAgentk: Scenario = {
  name: 'SIGSTOP agentk 30 s, SIGCONT',
  replicas: false,
  async inject({ system, load }) {
    const inFlight = load.inFlightCount();
    const faultAt = Date.now();
    system.agentk.signal('SIGSTOP');
    await sleep(30_000);
    const resumedAt = Date.now();
    system.agentk.signal('SIGCONT');
    return {
      faultAt,
      allowedFailures: inFlight,
      // The freeze outlasts kas's agent wait: a request sent after kas noticed it can only end 504.
      excuse: {
        why: `started after SIGSTOP, waited kas's full ${AGENT_WAIT_MS / 1000} s agent wait and got 504 before SIGCONT (no agent was there to answer)`,
        applies: (r) =>
          r.outcome === 504 && r.startedAt >= faultAt && r.endedAt <= resumedAt && r.endedAt - r.startedAt >= AGENT_WAIT_MS - 500,
      },
      notes: [`${inFlight} in flight at SIGSTOP`],
      failures: [],
    };
  },
};

const killRedis: Scenario = {
  name: 'kill -9 redis-server, restart',
  replicas: true,
  async inject({ system }) {
    const faultAt = Date.now();
    await system.redis!.kill9();
    await sleep(1_000);
    await system.redis!.restart();
    // Redis held no request: none may fail.
    return { faultAt, allowedFailures: 0, notes: [], failures: [] };
  },
};

const killTunnelReplica: Scenario = {
  name: 'kill -9 the replica holding the tunnels',
  replicas: true,
  async inject({ system, load }) {
    // agentk's first connection went to kas-1 (the balancer's first backend); users reach kas-2.
    const holder = system.kas[0]!;
    const inFlight = load.inFlightCount();
    const faultAt = Date.now();
    await holder.kill9();
    // Requests must resume without it; it comes back afterwards for the next scenarios.
    await waitFor('a request answered after the kill', async () => ((await load.probe()) === 200 ? true : undefined), 60_000).catch(
      () => undefined,
    );
    await holder.restart();
    return {
      faultAt,
      allowedFailures: inFlight,
      notes: [`${inFlight} requests in flight (through kas-2, tunnels on kas-1)`],
      failures: [],
    };
  },
};

function badInputOn(withPrivateApi: boolean, name: string): Scenario {
  return {
    name,
    replicas: withPrivateApi,
    async inject({ system }) {
      const failures: string[] = [];
      const notes: string[] = [];
      const targets = withPrivateApi ? listeners(system, true).filter((l) => l.name.startsWith('private API')) : listeners(system, false);
      for (const target of targets) {
        const results = await Promise.all(
          badInputs(`Bearer ${system.tokens.proxyToken}`).map(async (input) => ({
            input,
            ...(await exchange(target, input.bytes, ANSWER_WAIT_MS)),
          })),
        );
        notes.push(`${target.name}: ${results.map((r) => `${r.input.name} → ${r.result}`).join('; ')}`);
        for (const r of results)
          if (r.result === 'held') failures.push(`${target.name}: ${r.input.name} held open ${ANSWER_WAIT_MS / 1000} s`);
      }
      return { allowedFailures: 0, notes, failures };
    },
  };
}

/** The garbage-bytes case alone, for the smoke test in npm test. */
export const garbageBytes: Scenario = {
  name: 'garbage bytes on every listener',
  replicas: false,
  async inject({ system }) {
    const failures: string[] = [];
    const notes: string[] = [];
    for (const target of listeners(system, false)) {
      const input = badInputs('')[0]!;
      const r = await exchange(target, input.bytes, ANSWER_WAIT_MS);
      notes.push(`${target.name} → ${r.result}`);
      if (r.result === 'held') failures.push(`${target.name}: garbage held open ${ANSWER_WAIT_MS / 1000} s`);
    }
    return { allowedFailures: 0, notes, failures };
  },
};

/**
 * What a listener promises a stranger's sockets (kas's defaults; the suite's kascfg sets none):
 * the HTTP listeners close a connection whose first headers are not in within read_header_timeout
 * and one accepted while max_pending_connections others wait; the agent port closes one that has
 * not finished its HTTP/2 or WebSocket handshake within handshake_timeout and one accepted while
 * max_unauthenticated_connections others wait for a call to be accepted.
 */
function socketBounds(target: Listener): { cap: number; deadlineMs: number } {
  return target.name.startsWith('agent port')
    ? { cap: DEFAULT_CONNECTION_GUARD.maxUnauthenticated, deadlineMs: DEFAULT_CONNECTION_GUARD.handshakeTimeoutMs }
    : { cap: DEFAULT_HTTP_TIMEOUTS.maxPendingConnections, deadlineMs: DEFAULT_HTTP_TIMEOUTS.readHeaderTimeoutMs };
}

/** kas's timers and the once-a-second census both run late on a loaded machine. */
const SOCKET_DEADLINE_SLACK_MS = 5_000;
/** kas's descriptors after the sockets are gone: the load's own connections come and go by this many. */
const FD_BASELINE_SLACK = 25;

/** The sockets on every listener of the pair's kas, or (replica mode) on kas-1's private API. */
function heldSockets(slow: boolean, privateApi = false): Scenario {
  const count = slow ? 200 : 2_000;
  const what = slow ? 'slow' : 'idle';
  const where = privateApi ? 'on the private API' : 'per listener';
  return {
    name: slow ? `200 slow-header sockets ${where} (a byte a second)` : `2,000 idle TCP connections ${where}`,
    replicas: privateApi,
    async inject({ system }) {
      const failures: string[] = [];
      const notes: string[] = [];
      const pid = system.kas[0]!.pid!;
      const targets = privateApi ? listeners(system, true).filter((l) => l.name.startsWith('private API')) : listeners(system, false);
      const before = fdCensus(pid);
      const held: HeldSockets[] = [];
      const census = new HeldByKas(
        pid,
        targets.map((t) => t.port),
        HELD_SOCKETS_ADDRESS,
      );
      const sampler = setInterval(() => census.sample(), 1_000);
      try {
        held.push(...(await Promise.all(targets.map((target) => HeldSockets.open(target, count, slow, HELD_SOCKETS_ADDRESS)))));
        await sleep(HOLD_MS);
        census.sample();
        for (const h of held) h.release();
        // kas sees each client close; what it still holds after its own deadline it would hold for good.
        const longestDeadline = Math.max(...targets.map((t) => socketBounds(t).deadlineMs));
        await waitFor(
          "kas's descriptors back to their baseline",
          async () => {
            const now = census.sample();
            const fds = fdCensus(pid)?.fds ?? Infinity;
            return now && [...now.values()].every((n) => n === 0) && fds <= (before?.fds ?? 0) + FD_BASELINE_SLACK ? true : undefined;
          },
          longestDeadline + SOCKET_DEADLINE_SLACK_MS,
        ).catch(() => undefined);
      } finally {
        clearInterval(sampler);
        for (const h of held) h.release();
      }
      const after = fdCensus(pid);
      for (const h of held) {
        const { cap, deadlineMs } = socketBounds(h.target);
        const port = h.target.port;
        const peak = census.peakHeld(port);
        const longest = census.longestHeldMs(port);
        notes.push(
          `${h.target.name}: kas held at most ${peak} of ${h.opened} (cap ${cap}), none longer than ${(longest / 1000).toFixed(0)} s ` +
            `(deadline ${deadlineMs / 1000} s); ${h.closedByServer} closed on the client side within ${HOLD_MS / 1000} s`,
        );
        if (peak > cap) failures.push(`${h.target.name}: kas held ${peak} ${what} sockets at once, past its cap of ${cap}`);
        if (longest > deadlineMs + SOCKET_DEADLINE_SLACK_MS)
          failures.push(
            `${h.target.name}: kas held an ${what} socket ${Math.round(longest / 1000)} s, past its ${deadlineMs / 1000} s deadline`,
          );
        if (census.heldNow(port) > 0)
          failures.push(`${h.target.name}: kas still held ${census.heldNow(port)} after the clients closed them`);
      }
      const show = (c: { fds: number; sockets: number } | undefined) => (c ? `${c.fds} (${c.sockets} sockets)` : '–');
      notes.push(`kas descriptors ${show(before)} → peak ${show(census.peakFds)} → after ${show(after)}`);
      if (!before || !after || after.fds > before.fds + FD_BASELINE_SLACK)
        failures.push(`kas's descriptors did not return to their baseline: ${show(before)} → ${show(after)}`);
      return { allowedFailures: 0, notes, failures };
    },
  };
}

const tokens: Scenario = {
  name: 'every token shape (k8s proxy, REST API, agent port)',
  replicas: false,
  async inject({ system }) {
    const failures: string[] = [];
    const notes: string[] = [];
    const [proxy, api, , agent] = listeners(system, false);
    const { agentId, userToken, ciJobToken } = system.tokens;
    const ciCredential = Buffer.from(`Bearer ci:${agentId}:${ciJobToken}`);
    for (const [target, urlPath, kind] of [
      [proxy!, '/k8s-proxy/api/v1/namespaces', 'proxy'],
      [api!, '/api/v1/agents', 'api'],
    ] as const) {
      const seen: string[] = [];
      for (const shape of tokenShapes(agentId, userToken, ciJobToken)) {
        // The REST API takes the bare user token; its pat: form is the proxy's.
        const status = await requestWithAuthorization(target, urlPath, shape.value, 25_000);
        seen.push(`${shape.name} ${status}`);
        const refused = status === '401' || status === '403' || status === '429' || status === '400' || status === '431';
        if (shape[kind] === 'refuse' && !refused) failures.push(`${target.name}: ${shape.name} answered ${status}`);
        if (shape[kind] === 'accept' && status !== '200') failures.push(`${target.name}: ${shape.name} answered ${status}, not 200`);
      }
      notes.push(`${target.name}: ${seen.join(', ')}`);
      // 300 different bogus tokens at once: are repeated failures slowed down or refused (429)?
      const burst = await Promise.all(
        Array.from({ length: 300 }, (_, n) =>
          requestWithAuthorization(target, urlPath, Buffer.from(`Bearer pat:${agentId}:bogus${n}`), 25_000),
        ),
      );
      const limited = burst.filter((s) => s === '429').length;
      notes.push(`${target.name}: 300 bogus tokens → ${limited} answered 429`);
      if (limited === 0) failures.push(`${target.name}: 300 failed credentials in a burst, none rate limited`);
      if (kind === 'proxy') {
        // The address and the agent id are now refused: a valid CI job must still get through.
        const status = await requestWithAuthorization(target, urlPath, ciCredential, 25_000);
        notes.push(`${target.name}: ci: valid job token right after the burst ${status}`);
        if (status !== '200') failures.push(`${target.name}: a valid CI job token after the burst answered ${status}, not 200`);
      }
    }
    const agentShapes = ['', 'wrong', `${system.tokens.agentToken}x`, system.tokens.agentToken.toUpperCase(), 'x'.repeat(100 * 1024)];
    const agentSeen: string[] = [];
    for (const token of agentShapes) {
      const status = await connectWithToken(`127.0.0.1:${agent!.port}`, token);
      agentSeen.push(status);
      if (status !== 'UNAUTHENTICATED' && status !== 'RESOURCE_EXHAUSTED' && status !== HEADER_BLOCK_REFUSED)
        failures.push(`agent port: a wrong token (${token.length} chars) → ${status}`);
    }
    notes.push(`agent port (grpc-js): ${agentSeen.join(', ')}`);
    return { allowedFailures: 0, notes, failures };
  },
};

const frameFuzz: Scenario = {
  name: '1,000 random tunnel frame sequences (grpc-js, valid agent token)',
  replicas: false,
  async inject({ system }) {
    const result = await fuzzTunnel(`127.0.0.1:${system.kasPorts[0]!.agent}`, system.tokens.agentToken, 1_000, 20);
    const ends = Object.entries(result.endedByKas)
      .map(([how, n]) => `${how} ${n}`)
      .join(', ');
    // A user request kas gave to a hostile stream fails; that is the hostile agent's doing.
    return {
      allowedFailures: result.requestsReceived,
      notes: [`${result.sequences} sequences; user requests routed to them: ${result.requestsReceived}; stream ends: ${ends}`],
      failures: [],
    };
  },
};

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'chaos',
  GIT_AUTHOR_EMAIL: 'chaos@localhost',
  GIT_COMMITTER_NAME: 'chaos',
  GIT_COMMITTER_EMAIL: 'chaos@localhost',
};

function commitConfig(repo: string, text: string, message: string): void {
  writeFileSync(path.join(repo, '.gitlab', 'agents', 'dev', 'config.yaml'), text);
  execFileSync('git', ['-C', repo, 'commit', '-qam', message], { env: GIT_ENV, stdio: 'pipe' });
}

function configApplications(system: ChaosSystem): number {
  return (readFileSync(path.join(system.logDir, 'agentk.log'), 'utf8').match(/"msg":"agent configuration applied"/g) ?? []).length;
}

async function agentView(system: ChaosSystem): Promise<{ valid?: boolean; commit?: string } | undefined> {
  const response = await request(`http://127.0.0.1:${system.userKas.api}/api/v1/agents/${system.tokens.agentId}`, {
    headers: { authorization: `Bearer ${system.tokens.userToken}` },
  });
  // The REST API's agent view: the config in force is under `config`.
  const view = (await response.body.json()) as { config?: { valid?: boolean; commit?: string } };
  return view.config;
}

const hostileConfigs: Scenario = {
  name: 'hostile agent config commits (alias bomb, 10 MiB, deep nesting)',
  replicas: false,
  async inject({ system }) {
    const failures: string[] = [];
    const notes: string[] = [];
    const file = path.join(system.configRepo, '.gitlab', 'agents', 'dev', 'config.yaml');
    const good = readFileSync(file, 'utf8');
    const goodView = await agentView(system);
    const applied = configApplications(system);
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const hostile: Array<[string, string]> = [
      ['alias bomb', `${good}\n${bomb.join('\n')}\n`],
      ['10 MiB file', `${good}\n# ${'x'.repeat(10 * 1024 * 1024)}\n`],
      ['deep nesting', `${good}\nextra: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`],
      ['deep block nesting', `${good}\n${Array.from({ length: 2_000 }, (_, n) => `${' '.repeat(n)}k${n}:`).join('\n')} 1\n`],
    ];
    for (const [name, text] of hostile) {
      commitConfig(system.configRepo, text, `chaos: ${name}`);
      const view = await waitFor(
        `kas to read the ${name} commit`,
        async () => {
          const v = await agentView(system);
          return v && v.valid === false ? v : undefined;
        },
        30_000,
      ).catch((err: Error) => {
        failures.push(`${name}: ${err.message}`);
        return undefined;
      });
      notes.push(`${name}: ${view ? 'refused' : 'not refused'}${view?.commit === goodView?.commit ? ', last good commit in force' : ''}`);
      if (view && view.commit !== goodView?.commit) failures.push(`${name}: the config in force changed to ${view.commit}`);
    }
    if (configApplications(system) !== applied) failures.push('agentk applied a configuration from a hostile commit');
    commitConfig(system.configRepo, good, 'chaos: restore the good config');
    await waitFor('the good config back', async () => ((await agentView(system))?.valid === true ? true : undefined), 30_000).catch(() =>
      failures.push('the restored config was not taken'),
    );
    return { allowedFailures: 0, notes, failures };
  },
};

const baseline: Scenario = {
  name: 'baseline (no fault, 10 s)',
  replicas: false,
  async inject() {
    await sleep(10_000);
    return { allowedFailures: 0, notes: [], failures: [] };
  },
};

export const SCENARIOS: Scenario[] = [
  baseline,
  killAgentk,
  killKas,
  freezeAgentk,
  badInputOn(false, 'bad input on every listener'),
  heldSockets(false),
  heldSockets(true),
  tokens,
  frameFuzz,
  hostileConfigs,
  killRedis,
  killTunnelReplica,
  badInputOn(true, 'bad input on the private API'),
  heldSockets(false, true),
  heldSockets(true, true),
];

export const SMOKE_SCENARIOS: Scenario[] = [killAgentk, garbageBytes];
