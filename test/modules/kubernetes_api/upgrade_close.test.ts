// An upgraded connection's end through kas and agentk, on each tunnel transport: a WebSocket's
// close frame (code and reason) reaches the other side whichever side closes, and a close that
// follows a large answer to a slow reader arrives after all of it, not as 1006 (no close frame).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { Agentk } from '../../../agent/agentk';
import type { TunnelTransport } from '../../../agent/module/modagent';
import { createCertificateAuthority } from '../../../agent/internal/tls';
import {
  startAgentk,
  startKas,
  useTunnelTransport,
  userAuth,
  useUpstreamKubeconfig,
  waitForIdleTunnels,
  type Kas,
} from '../reverse_tunnel/harness';
import { eventually } from '../../support/eventually';

interface Closed {
  code: number;
  reason: string;
  bytes: number;
}

describe('tunnel: a WebSocket close through kas and agentk', function () {
  this.timeout(60_000);
  const env = useUpstreamKubeconfig();

  for (const transport of ['v2', 'grpc'] as TunnelTransport[]) {
    describe(`on ${transport}, over TLS`, () => {
      useTunnelTransport(transport);
      let kas: Kas;
      let agentk: Agentk;
      let caPem: string;

      before(async () => {
        const ca = createCertificateAuthority();
        caPem = ca.certPem;
        const caFile = path.join(env.dir, `ca-${transport}.pem`);
        await fs.writeFile(caFile, caPem);
        kas = await startKas({ tlsCa: ca });
        agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: env.kubeconfig, caFile });
        await waitForIdleTunnels(kas.registry);
      });
      after(async () => {
        await agentk.stop();
        await kas.stop();
      });

      /** An exec WebSocket through kas, open and greeted; `closed` settles with its close and the binary bytes read. */
      async function open(): Promise<{ ws: WebSocket; closed: Promise<Closed> }> {
        const ws = new WebSocket(`${kas.proxyUrl.replace(/^http/, 'ws')}/api/v1/namespaces/default/pods/p/exec?command=sh`, {
          headers: userAuth(),
          ca: caPem,
        });
        let bytes = 0;
        const greeted = new Promise<void>((resolve, reject) => {
          ws.once('message', () => resolve());
          ws.once('error', reject);
        });
        ws.on('message', (data: Buffer, isBinary) => (bytes += isBinary ? data.length : 0));
        const closed = new Promise<Closed>((resolve) =>
          ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), bytes })),
        );
        await greeted;
        return { ws, closed };
      }

      it("the client's close code and reason reach the upstream, whose answer comes back", async () => {
        const before = env.upstream.webSocketCloses.length;
        const { ws, closed } = await open();
        ws.close(4001, 'client bye');
        assert.deepEqual(await closed, { code: 4001, reason: 'client bye', bytes: 0 });
        await eventually(() => env.upstream.webSocketCloses.length > before, 'the upstream to see the close');
        assert.deepEqual(env.upstream.webSocketCloses.slice(before), [{ code: 4001, reason: 'client bye' }]);
      });

      it("the upstream's close code and reason reach the client after 8 MB it read slowly", async () => {
        const { ws, closed } = await open();
        ws.send('close 4002 server bye after 8000000');
        // A slow reader: the tunnel's buffers fill and every hop waits, then the close follows the data.
        ws.pause();
        await new Promise((r) => setTimeout(r, 500));
        ws.resume();
        assert.deepEqual(await closed, { code: 4002, reason: 'server bye', bytes: 8_000_000 });
      });
    });
  }
});
