// kas's pool of dialed-in agentk connections (transport v2) right after agentk died: its sockets
// are destroyed at once (the reset), but each leaves the pool only on its 'close', a later tick.
// A request replayed in that window must not be handed a dead connection: three such attempts
// failed it with 504 "the agent connection closed" (npm run chaos, kill -9 agentk).
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { HttpTunnelRegistry } from '../../../agent/modules/http_tunnel/server/connections';

describe('http_tunnel: kas hands out no connection whose socket is already destroyed', () => {
  let server: net.Server;
  let registry: HttpTunnelRegistry;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    registry = new HttpTunnelRegistry();
  });
  afterEach(async () => {
    registry.close();
    for (const socket of sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Two real connections to `server`, as kas holds the sockets agentk dialed. */
  async function dialed(count: number): Promise<net.Socket[]> {
    const out: net.Socket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      sockets.push(socket);
      out.push(socket);
    }
    return out;
  }

  it('skips and drops a destroyed idle connection before its close event, and hands out the live one', async () => {
    const [live, dead] = await dialed(2);
    registry.add('1', live!, undefined);
    registry.add('1', dead!, undefined);
    dead!.destroy(); // 'close' follows on a later tick
    const taken = registry.take('1');
    assert.equal(taken?.socket, live, 'the live connection');
    assert.deepEqual(registry.counts(), [{ agentId: '1', idle: 0, busy: 1 }], 'the dead one left the pool');
  });

  it('hands out nothing when every idle connection is destroyed, and the agent leaves the pool', async () => {
    const [a, b] = await dialed(2);
    registry.add('1', a!, undefined);
    registry.add('1', b!, undefined);
    a!.destroy();
    b!.destroy();
    assert.equal(registry.take('1'), undefined);
    assert.equal(registry.serves('1'), false);
  });
});
