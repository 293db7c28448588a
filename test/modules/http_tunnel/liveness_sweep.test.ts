// kas's liveness check of v2 agentk processes (server/connections.ts), at the registry: real
// loopback connections, each served on the far end by agentk's own tunnel server (which answers
// kas's probe itself), many agentk instances on one kas. What is checked: a process whose
// connections carry answers is not probed, an idle one is, and the probes of many idle processes
// are spread over the period instead of leaving in one turn. (A frozen process is still judged
// dead: frozen_instance.test.ts and reverse_tunnel/replay.test.ts, with SIGSTOP.)
import { strict as assert } from 'node:assert';
import type * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHttpTunnelServer } from '../../../agent/modules/http_tunnel/agent/serve';
import { CALLER_HEADER, encodeCallerHeader, PROBE_HEADER } from '../../../agent/modules/http_tunnel/protocol';
import { HttpTunnelRegistry } from '../../../agent/modules/http_tunnel/server/connections';
import { KubernetesApiUpstream } from '../../../agent/modules/kubernetes_api/agent/upstream';
import { quietLogger, useUpstreamFixture } from '../reverse_tunnel/harness';

const AGENT = '7';
const KEEPALIVE_MS = 1_000;

interface Instances {
  registry: HttpTunnelRegistry;
  /** When each instance's connections got a probe (ms since the instances were added). */
  probes: Map<string, number[]>;
  addedAt: number;
  stop(): Promise<void>;
}

describe('http_tunnel: liveness probes of many agentk processes', function () {
  this.timeout(30_000);
  const fixture = useUpstreamFixture();

  /** `count` agentk instances with one v2 connection each, on one registry. */
  async function instances(count: number): Promise<Instances> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(fixture.kubeconfig);
    const upstream = new KubernetesApiUpstream(kubeConfig);
    const agentkServer = createHttpTunnelServer({ upstream, logger: quietLogger });
    const instanceOf = new Map<net.Socket, string>();
    const probes = new Map<string, number[]>();
    const registry = new HttpTunnelRegistry({ keepaliveTimeMs: KEEPALIVE_MS, keepaliveTimeoutMs: 2_000 });
    const result: Instances = { registry, probes, addedAt: 0, stop: async () => undefined };
    agentkServer.on('request', (req: http.IncomingMessage) => {
      if (req.headers[PROBE_HEADER] === undefined) return;
      probes.get(instanceOf.get(req.socket)!)!.push(Date.now() - result.addedAt);
    });
    const accepted: net.Socket[] = [];
    const kasSide = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => kasSide.listen(0, '127.0.0.1', () => resolve()));
    const port = (kasSide.address() as AddressInfo).port;
    const dialed: net.Socket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      instanceOf.set(socket, `i${i}`);
      probes.set(`i${i}`, []);
      agentkServer.emit('connection', socket);
      dialed.push(socket);
    }
    while (accepted.length < count) await new Promise((r) => setTimeout(r, 10));
    // In the order dialed: the kas side's accepted socket i is the far end of dialed socket i.
    const byLocalPort = new Map(dialed.map((s, i) => [s.localPort, `i${i}`]));
    result.addedAt = Date.now();
    for (const socket of accepted) {
      const instanceId = byLocalPort.get(socket.remotePort!)!;
      registry.add(AGENT, socket, { version: 't', podName: instanceId, podNamespace: 'n', instanceId, minIdle: count });
    }
    result.stop = async () => {
      registry.close();
      for (const socket of dialed) socket.destroy();
      upstream.close();
      await new Promise<void>((resolve) => kasSide.close(() => resolve()));
    };
    fixture.cleanups.push(() => result.stop());
    return result;
  }

  it('spreads the probes of idle processes over the period: not all in one turn', async () => {
    const count = 20;
    const { probes } = await instances(count);
    const deadline = Date.now() + 4 * KEEPALIVE_MS;
    while ([...probes.values()].some((times) => times.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const first = [...probes.values()].map((times) => times[0]);
    assert.ok(
      first.every((t) => t !== undefined),
      `every idle process probed within ${4 * KEEPALIVE_MS} ms: ${JSON.stringify([...probes])}`,
    );
    const sorted = (first as number[]).sort((a, b) => a - b);
    // Each process is looked at in its own slot (1000 ms / 50 slots = 20 ms ticks, one process a slot here).
    const mostIn50Ms = Math.max(...sorted.map((t) => sorted.filter((u) => u >= t && u < t + 50).length));
    assert.ok(mostIn50Ms <= 5, `at most 5 of ${count} first probes within 50 ms, saw ${mostIn50Ms}: ${sorted.join(', ')}`);
    assert.ok(sorted[sorted.length - 1]! - sorted[0]! >= 200, `the first probes span at least 200 ms: ${sorted.join(', ')}`);
  });

  it('does not probe a process whose connection carries answers; probes the idle one beside it', async () => {
    const { registry, probes } = await instances(2);
    const caller = encodeCallerHeader({ kind: 'pat', accessAsJson: JSON.stringify({ agent: {} }), username: '', groups: [] });
    // Requests go on the busy instance's connection only: take until it is the one handed out.
    const until = Date.now() + 3 * KEEPALIVE_MS;
    let answered = 0;
    while (Date.now() < until) {
      const taken = [registry.take(AGENT), registry.take(AGENT)].filter((c) => c !== undefined);
      const connection = taken.find((c) => c.instance.meta?.instanceId === 'i0');
      for (const other of taken) if (other !== connection) registry.release(other);
      if (connection) {
        const res = await connection.client.request({ method: 'GET', path: '/api/v1/namespaces', headers: { [CALLER_HEADER]: caller } });
        await res.body.text();
        assert.equal(res.statusCode, 200);
        answered++;
        registry.release(connection);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(answered >= 10, `requests answered on the busy process: ${answered}`);
    assert.deepEqual(probes.get('i0'), [], 'the process whose connection carried answers was not probed');
    assert.ok(probes.get('i1')!.length >= 1, `the idle process was probed: ${JSON.stringify([...probes])}`);
  });
});
