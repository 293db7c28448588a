// A frozen agentk (SIGSTOP) with both transports up is one dead instance to kas: whichever
// transport's liveness check notices first, the process leaves routing on both, and its requests
// that had no answer wait for another agentk or for this one to come back, instead of landing on
// its other transport (where a frozen process answers nothing either) or failing at once.
// Each test keeps one transport's own check slow (60 s), so only the other's verdict can explain
// what kas does within the test's bounds.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  AGENT_ID,
  AGENT_TOKEN,
  request,
  spawnAgentk,
  startAgentk,
  startKas,
  stopProcess,
  useTunnelTransport,
  useUpstreamFixture,
  userAuth,
  type FetchResult,
  type Kas,
} from '../reverse_tunnel/harness';
import { eventually } from '../../support/eventually';

const FROZEN = 'agentk-frozen';
const SLOW_MS = 60_000;
/** kas whose v2 liveness probe judges within ~3 s and whose gRPC ping would take a minute. */
const V2_VERDICT_ONLY = {
  agentWaitTimeoutMs: 20_000,
  keepaliveTimeMs: 1_000,
  keepaliveTimeoutMs: 2_000,
  grpcKeepaliveTimeMs: SLOW_MS,
  grpcKeepaliveTimeoutMs: SLOW_MS,
};

async function spawnFrozenCandidate(kas: Kas, dir: string, kubeconfig: string): Promise<ChildProcess> {
  const tokenFile = path.join(dir, 'token');
  await fs.writeFile(tokenFile, AGENT_TOKEN);
  const args = ['--kas-address', kas.grpcAddress, '--token-file', tokenFile, '--kubeconfig', kubeconfig];
  return spawnAgentk([...args, '--observability-listen-address', '127.0.0.1:0', '--log-level', 'error'], FROZEN);
}

/** The process's idle reverse HTTP/1.1 connections and idle gRPC tunnel streams on this kas. */
function routesOf(kas: Kas, podName: string): { v2: number; grpc: number } {
  const v2 = kas.httpTunnels.instancesOf(AGENT_ID).find((i) => i.podName === podName);
  const grpc = kas.registry.connectedAgents()[0]?.replicas.find((r) => r.podName === podName);
  return { v2: v2 ? v2.idle + v2.busy : 0, grpc: grpc?.idleTunnels ?? 0 };
}

/** A request whose outcome can be looked at before it settles. */
function tracked(work: Promise<FetchResult>): { settled: () => boolean; result: Promise<FetchResult & { ms: number }> } {
  const started = Date.now();
  let settled = false;
  const result = work.then((value) => {
    settled = true;
    return { ...value, ms: Date.now() - started };
  });
  return { settled: () => settled, result };
}

describe('kas: a frozen agentk is one dead instance on both transports', function () {
  this.timeout(120_000);
  useTunnelTransport('v2');
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  async function frozenCandidate(kas: Kas): Promise<ChildProcess> {
    const child = await spawnFrozenCandidate(kas, fixture.dir, fixture.kubeconfig);
    cleanups.push(() => stopProcess(child));
    await eventually(
      () => routesOf(kas, FROZEN).v2 >= 2 && routesOf(kas, FROZEN).grpc >= 2,
      'the agentk process to be up on both transports',
      60_000,
    );
    return child;
  }

  it('takes the process out of its gRPC routing when the reverse HTTP/1.1 probe judges it dead; its GETs wait and succeed once it resumes', async () => {
    // The gRPC tunnel's own ping is slow here: its streams can only leave by the v2 verdict.
    const kas = await startKas(V2_VERDICT_ONLY);
    cleanups.push(() => kas.stop());
    const frozen = await frozenCandidate(kas);
    frozen.kill('SIGSTOP');
    const gets = Array.from({ length: 3 }, (_, n) => tracked(request(`${kas.proxyUrl}/api/v1/pods?n=${n}`, { headers: userAuth() })));
    // 1 s without an answer byte, then a probe unanswered for 2 s: the v2 verdict.
    await eventually(() => routesOf(kas, FROZEN).v2 === 0, 'the v2 verdict on the frozen agentk', 15_000);
    assert.equal(routesOf(kas, FROZEN).grpc, 0, 'its idle gRPC streams left routing with the verdict');
    // Nothing to answer them: they wait (a 502 here would be the replay landing nowhere, or on its gRPC streams).
    await new Promise((r) => setTimeout(r, 1_000));
    assert.deepEqual(
      gets.map((g) => g.settled()),
      [false, false, false],
      'the GETs wait for an agentk',
    );
    frozen.kill('SIGCONT');
    const results = await Promise.all(gets.map((g) => g.result));
    for (const res of results) assert.equal(res.status, 200, res.body);
    assert.ok(
      results.every((r) => r.ms < 20_000),
      `answered after ${results.map((r) => r.ms).join(', ')} ms`,
    );
  });

  it('replays the frozen process GETs on another agentk, not on the frozen process gRPC streams', async () => {
    const kas = await startKas(V2_VERDICT_ONLY);
    cleanups.push(() => kas.stop());
    // Another agentk on the gRPC tunnel alone: while the frozen one has v2 connections, requests take those.
    const healthy = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig, tunnelTransport: 'grpc' });
    cleanups.push(() => healthy.stop());
    const frozen = await frozenCandidate(kas);
    frozen.kill('SIGSTOP');
    const gets = await Promise.all(
      Array.from({ length: 3 }, (_, n) => tracked(request(`${kas.proxyUrl}/api/v1/pods?n=${n}`, { headers: userAuth() })).result),
    );
    for (const res of gets) assert.equal(res.status, 200, res.body);
    // 1 s + the 2 s probe, then at once on the healthy agentk; its gRPC streams, newer, would have been taken first.
    assert.ok(
      gets.every((r) => r.ms < 10_000),
      `answered after ${gets.map((r) => r.ms).join(', ')} ms`,
    );
    assert.deepEqual(routesOf(kas, FROZEN), { v2: 0, grpc: 0 });
  });

  it('probes the process reverse HTTP/1.1 connections at once when its gRPC connection misses a ping', async () => {
    // The v2 silence check is slow here: only the gRPC verdict can start its probe in time.
    const kas = await startKas({
      agentWaitTimeoutMs: 20_000,
      keepaliveTimeMs: SLOW_MS,
      keepaliveTimeoutMs: 2_000,
      grpcKeepaliveTimeMs: 1_000,
      grpcKeepaliveTimeoutMs: 2_000,
    });
    cleanups.push(() => kas.stop());
    const frozen = await frozenCandidate(kas);
    const frozenAt = Date.now();
    frozen.kill('SIGSTOP');
    // The gRPC ping: at most 2 × 1 s of silence sampled + 2 s; then the v2 probe's 2 s.
    await eventually(() => routesOf(kas, FROZEN).v2 === 0, 'the frozen agentk to leave v2 routing', 20_000);
    const ms = Date.now() - frozenAt;
    assert.ok(ms < 15_000, `left v2 routing ${ms} ms after the freeze`);
    assert.equal(routesOf(kas, FROZEN).grpc, 0);
    frozen.kill('SIGCONT');
    await eventually(() => routesOf(kas, FROZEN).v2 >= 1 && routesOf(kas, FROZEN).grpc >= 1, 'the resumed agentk back on both', 30_000);
    const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
    assert.equal(res.status, 200, res.body);
  });
});
