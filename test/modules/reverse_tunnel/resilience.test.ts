// The tunnel under load and failure: pool growth and shrink, a refused agent token, kas and
// agentk going away and coming back.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { register } from 'prom-client';
import type { Agentk } from '../../../agent/agentk';
import { dialKas } from '../../../agent/modules/reverse_tunnel';
import {
  AGENT_ID,
  AGENT_TOKEN,
  quietLogger,
  request,
  spawnAgentk,
  startAgentk,
  stopProcess,
  startKas,
  useTunnelTransport,
  useUpstreamFixture,
  userAuth,
  waitForIdleTunnels,
  type Kas,
} from './harness';
import { eventually } from '../../support/eventually';

const FAST_BACKOFF = { initialMs: 100, maxMs: 400, factor: 1.6, jitter: 0.2, resetAfterMs: 25_000 };

// Run on both transports in every run (the other suites take TUNNEL_TRANSPORT), so the gRPC
// tunnel stays covered while v2 is the default.
for (const transport of ['v2', 'grpc'] as const) {
  describe(`tunnel: pool, failures and recovery (${transport})`, function () {
    this.timeout(60_000);
    useTunnelTransport(transport);
    const fixture = useUpstreamFixture();
    const { cleanups } = fixture;

    async function kasWithAgentk(poolSettings = {}): Promise<{ kas: Kas; agentk: Agentk }> {
      const kas = await startKas();
      cleanups.push(() => kas.stop());
      const agentk = await startAgentk({
        kasAddress: kas.grpcAddress,
        kubeconfig: fixture.kubeconfig,
        poolSettings: { backoff: FAST_BACKOFF, ...poolSettings },
      });
      cleanups.push(() => agentk.stop());
      await waitForIdleTunnels(kas.registry, 2);
      return { kas, agentk };
    }

    it('grows the pool for 60 concurrent slow requests, then closes surplus idle streams', async () => {
      const { kas } = await kasWithAgentk({ idleTimeoutMs: 500 });
      // The pool that carries the requests: v2's connections, or the gRPC tunnel's streams.
      const pool = () => (transport === 'v2' ? kas.httpTunnels : kas.registry).counts().find((c) => c.agentId === AGENT_ID);
      let peakBusy = 0;
      const sampler = setInterval(() => {
        peakBusy = Math.max(peakBusy, pool()?.busy ?? 0);
      }, 10);
      try {
        const results = await Promise.all(Array.from({ length: 60 }, () => request(`${kas.proxyUrl}/stream`, { headers: userAuth() })));
        assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
        assert.ok(
          results.every((r) => r.body.split('\n').filter(Boolean).length === 10),
          'every stream complete',
        );
      } finally {
        clearInterval(sampler);
      }
      assert.ok(peakBusy > 10, `expected well over the 2 initial streams busy at once, saw ${peakBusy}`);
      const grown = pool()?.idle ?? 0;
      assert.ok(grown >= 2);
      await eventually(() => (pool()?.idle ?? 0) === 2, 'surplus idle streams to close down to 2');
    });

    it('loses no request while agentk keeps closing surplus idle streams (kas replays onto a fresh tunnel)', async () => {
      const { kas } = await kasWithAgentk({ idleTimeoutMs: 20 });
      for (let round = 0; round < 15; round++) {
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            request(`${kas.proxyUrl}/api/v1/configmaps`, { method: 'POST', headers: userAuth(), body: `body-${round}-${i}` }),
          ),
        );
        results.forEach((r, i) => {
          assert.equal(r.status, 200, r.body);
          assert.equal((JSON.parse(r.body) as { body: string }).body, `body-${round}-${i}`);
        });
        await new Promise((r) => setTimeout(r, 15 + (round % 4) * 5));
      }
    });

    it('recycles agent connections at max connection age without failing requests in flight', async () => {
      const kas = await startKas({ maxConnectionAgeMs: 1000, maxConnectionAgeGraceMs: 20_000 });
      cleanups.push(() => kas.stop());
      const agentk = await startAgentk({
        kasAddress: kas.grpcAddress,
        kubeconfig: fixture.kubeconfig,
        poolSettings: { backoff: FAST_BACKOFF },
      });
      cleanups.push(() => agentk.stop());
      await waitForIdleTunnels(kas.registry, 2);
      const statuses: number[] = [];
      const deadline = Date.now() + 3500;
      const longStream = request(`${kas.proxyUrl}/stream`, { headers: userAuth() }); // spans an age boundary
      while (Date.now() < deadline) {
        const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
        statuses.push(res.status);
        await new Promise((r) => setTimeout(r, 50));
      }
      const streamed = await longStream;
      assert.equal(streamed.status, 200);
      assert.equal(streamed.body.split('\n').filter(Boolean).length, 10, 'the long response finished across the recycle');
      assert.deepEqual([...new Set(statuses)], [200], `statuses seen: ${statuses.join(',')}`);
      assert.ok(statuses.length > 10);
      assert.ok(
        kas.agentServer.connectionStats().accepted >= 3,
        `agentk should have reconnected after each recycle (accepted ${kas.agentServer.connectionStats().accepted})`,
      );
    });

    it('refuses a bad agent token: the stream ends UNAUTHENTICATED and no tunnel registers', async () => {
      const kas = await startKas({ agentWaitTimeoutMs: 200 });
      cleanups.push(() => kas.stop());
      const connection = await dialKas({ kasAddress: kas.grpcAddress, token: 'not-a-valid-token', logger: quietLogger });
      cleanups.push(() => connection.close());
      const stream = connection.openTunnelStream();
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        stream.on('error', () => undefined);
        stream.on('status', resolve);
      });
      assert.equal(status.code, grpc.status.UNAUTHENTICATED);
      assert.match(status.details, /invalid agent token/);
      assert.deepEqual(kas.registry.connectedAgents(), []);
      const refused = await register.getSingleMetric('kas_agent_connections_refused_total')!.get();
      assert.ok((refused.values[0]?.value ?? 0) >= 1);
    });

    it('keeps agentk with a bad token unready and out of the registry', async () => {
      const kas = await startKas({ agentWaitTimeoutMs: 200 });
      cleanups.push(() => kas.stop());
      const agentk = await startAgentk({
        kasAddress: kas.grpcAddress,
        kubeconfig: fixture.kubeconfig,
        token: 'wrong',
        poolSettings: { backoff: FAST_BACKOFF },
      });
      cleanups.push(() => agentk.stop());
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(agentk.stats().connected, false);
      const readiness = await request(`http://${agentk.observabilityAddress}/readiness`);
      assert.equal(readiness.status, 503);
      assert.equal((await request(`${kas.proxyUrl}/api`, { headers: userAuth() })).status, 504);
    });

    it('reconnects with backoff after kas restarts, and requests succeed again', async () => {
      const first = await startKas();
      const address = first.agentServer.address;
      const agentk = await startAgentk({
        kasAddress: first.grpcAddress,
        kubeconfig: fixture.kubeconfig,
        poolSettings: { backoff: FAST_BACKOFF },
      });
      cleanups.push(() => agentk.stop());
      await waitForIdleTunnels(first.registry, 2);
      await first.stop();
      await eventually(() => !agentk.stats().connected, 'agentk to notice kas is gone');
      const second = await startKas({ agentAddress: address });
      cleanups.push(() => second.stop());
      await waitForIdleTunnels(second.registry, 2);
      const res = await request(`${second.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 200);
      assert.equal((await request(`http://${agentk.observabilityAddress}/readiness`)).status, 200);
    });

    it('serves again after an agentk process is killed and started anew; the registry shows the replica', async () => {
      const kas = await startKas({ agentWaitTimeoutMs: 40_000 }); // long enough for a new agentk process to start on a loaded machine
      cleanups.push(() => kas.stop());
      const tokenFile = path.join(fixture.dir, 'token');
      await fs.writeFile(tokenFile, AGENT_TOKEN);
      const startProcess = () =>
        spawnAgentk([
          '--kas-address',
          kas.grpcAddress,
          '--token-file',
          tokenFile,
          '--kubeconfig',
          fixture.kubeconfig,
          '--observability-listen-address',
          '127.0.0.1:0',
          '--log-level',
          'error',
        ]);
      const firstProcess = startProcess();
      cleanups.push(() => stopProcess(firstProcess));
      await waitForIdleTunnels(kas.registry, 2, 30_000);
      const [agent] = kas.registry.connectedAgents();
      assert.equal(agent?.agentId, AGENT_ID);
      assert.equal(agent?.replicas[0]?.podName, 'agentk-pod-1');
      assert.equal(agent?.replicas[0]?.podNamespace, 'agents');
      firstProcess.kill('SIGKILL');
      await eventually(() => kas.registry.connectedAgents().length === 0, 'the killed replica to leave the registry');
      const secondProcess = startProcess();
      cleanups.push(() => stopProcess(secondProcess));
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 200, 'a request waits for the new agentk and succeeds');
    });
  });
}
