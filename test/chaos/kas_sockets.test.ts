// The fault suite's census of a server's own descriptors (kas_sockets.ts): it counts the
// connections the server accepted from the held sockets' address, and not those the kernel keeps
// in the accept backlog of a server that has not accepted them (what the client side cannot tell apart).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fdCensus, HELD_SOCKETS_ADDRESS, HeldByKas } from './kas_sockets';
import { waitFor } from './procs';

function connect(port: number, localAddress = HELD_SOCKETS_ADDRESS): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * A listener in another process that accepts nothing until it reads a line on stdin, then every
 * pending connection. Python's, because Node (libuv) accepts each connection as it arrives.
 */
function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const script = [
    'import socket, sys',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(100)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.readline()',
    's.setblocking(False)',
    'held = []',
    'while True:',
    '    try:',
    '        held.append(s.accept()[0])',
    '    except BlockingIOError:',
    '        break',
    "print('accepted', len(held), flush=True)",
    'sys.stdin.readline()',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

describe('chaos: kas socket census from /proc', function () {
  this.timeout(30_000);
  const sockets: net.Socket[] = [];
  let server: ChildProcess | undefined;

  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    server?.kill('SIGKILL');
    server = undefined;
  });

  it('counts the connections this process accepted, by their peer address and port', async () => {
    const listener = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const port = (listener.address() as net.AddressInfo).port;
      const clients = await Promise.all(Array.from({ length: 5 }, () => connect(port)));
      const other = await connect(port, '127.0.0.1');
      sockets.push(...clients, other);
      const ports = new Set(clients.map((c) => c.localPort!));
      const held = new HeldByKas(process.pid, [port]);
      const counted = await waitFor(
        'the five accepted connections',
        async () => (held.sample()!.get(port) === 5 ? held.sample() : undefined),
        10_000,
      );
      assert.equal(counted.get(port), 5, 'the connection from 127.0.0.1 is not one of them');
      const census = fdCensus(process.pid)!;
      const accepted = census.connections.filter((c) => c.localPort === port && c.remoteAddress === HELD_SOCKETS_ADDRESS);
      assert.deepEqual(new Set(accepted.map((c) => c.remotePort)), ports);
      assert.ok(census.sockets >= 13, `6 accepted + 6 client sockets + the listener: ${census.sockets}`);
      assert.ok(census.fds >= census.sockets);
      // The clients' own sockets (local port = theirs, peer = the listener) are not taken for the server's.
      assert.equal(census.connections.filter((c) => c.remotePort === port).length, 6);
    } finally {
      listener.close();
    }
  });

  it('does not count connections still in the accept backlog, then counts them once accepted, with peak and age', async () => {
    const started = await startServer();
    server = started.child;
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(started.port)));
    sockets.push(...clients);
    const held = new HeldByKas(server.pid!, [started.port]);
    // Every client is connected (the kernel finished each handshake); the server accepted none.
    assert.equal(held.sample()!.get(started.port), 0);
    server.stdin!.write('accept\n');
    await waitFor('the server to accept all 20', async () => (held.sample()!.get(started.port) === 20 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    held.sample();
    assert.equal(held.peakHeld(started.port), 20);
    assert.ok(held.longestHeldMs(started.port) >= 300, `held ${held.longestHeldMs(started.port)} ms`);
  });
});
