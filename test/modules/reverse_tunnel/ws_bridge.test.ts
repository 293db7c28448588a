// The loopback hop of ws:// agent connections: a WebSocket joined to a native socket carries bytes
// both ways intact (also past the backpressure mark), and either side closing closes the other.
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { joinWebSocketAndSocket } from '../../../agent/modules/reverse_tunnel/ws_bridge';

interface Rig {
  /** The far end of the WebSocket (as kas or agentk would see it). */
  peer: WebSocket;
  /** The far end of the socket joined to the WebSocket. */
  local: net.Socket;
  errors: Error[];
}

describe('tunnel: WebSocket ⇄ socket bridge', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function rig(): Promise<Rig> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(wss, 'listening');
    const tcp = net.createServer();
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    cleanups.push(() => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      tcp.close();
    });
    const errors: Error[] = [];
    const joined = new Promise<net.Socket>((resolve) => {
      tcp.once('connection', (inner: net.Socket) => resolve(inner));
    });
    const local = net.connect((tcp.address() as net.AddressInfo).port, '127.0.0.1');
    cleanups.push(() => local.destroy());
    const inner = await joined;
    const serverSide = once(wss, 'connection') as Promise<[WebSocket]>;
    const peer = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`, { perMessageDeflate: false });
    cleanups.push(() => peer.terminate());
    const [ws] = await serverSide;
    joinWebSocketAndSocket(ws, inner, (err) => errors.push(err));
    await once(peer, 'open');
    return { peer, local, errors };
  }

  function collect(source: net.Socket | WebSocket, bytes: number): Promise<Buffer> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const take = (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
        if (total >= bytes) resolve(Buffer.concat(chunks));
      };
      if (source instanceof WebSocket) source.on('message', take);
      else source.on('data', take);
    });
  }

  it('carries 4 MiB each way intact, past the 1 MiB backpressure mark', async () => {
    const { peer, local } = await rig();
    const up = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < up.length; i++) up[i] = (i * 7) & 0xff;
    const down = Buffer.from(up).reverse();
    const atPeer = collect(peer, up.length);
    const atLocal = collect(local, down.length);
    local.write(up);
    for (let offset = 0; offset < down.length; offset += 64 * 1024) peer.send(down.subarray(offset, offset + 64 * 1024));
    assert.ok((await atPeer).equals(up), 'socket → WebSocket bytes differ');
    assert.ok((await atLocal).equals(down), 'WebSocket → socket bytes differ');
  });

  it('closes the socket when the WebSocket closes, and the WebSocket when the socket ends', async () => {
    const first = await rig();
    const socketClosed = once(first.local, 'close');
    first.peer.close();
    await socketClosed;

    const second = await rig();
    const webSocketClosed = once(second.peer, 'close');
    second.local.end();
    await webSocketClosed;
    assert.deepEqual([...first.errors, ...second.errors], []);
  });
});
