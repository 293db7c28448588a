// The liveness deadline that counts only time the process was running (agent/internal/awake_timeout.ts):
// after kas's event loop was blocked past the deadline, the answer that arrived meanwhile is read
// before the verdict (a plain timer judges first: the control case below).
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { setAwakeTimeout } from '../../agent/internal/awake_timeout';

function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a stalled event loop, as under a burst of TLS handshakes
  }
}

describe('setAwakeTimeout', () => {
  it('fires after its time when the process runs freely, not before, and not once cancelled', async () => {
    const started = performance.now();
    const elapsed = await new Promise<number>((resolve) => setAwakeTimeout(() => resolve(performance.now() - started), 600));
    assert.ok(elapsed >= 590, `fired after ${elapsed} ms`);
    let fired = false;
    const cancelled = setAwakeTimeout(() => (fired = true), 100);
    cancelled.cancel();
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(fired, false);
  });

  it('after a stall past the deadline, reads what arrived before it judges (a plain timer does not)', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const peer = await accepted;
    peer.resume();
    try {
      const verdicts = new Promise<{ plain: number; awake: number }>((resolve) => {
        let plain = -1;
        setTimeout(() => (plain = peer.bytesRead), 300);
        setAwakeTimeout(() => resolve({ plain, awake: peer.bytesRead }), 300);
      });
      client.write('x'); // the answer: in kas's receive buffer from now on
      block(1_500);
      const { plain, awake } = await verdicts;
      assert.equal(plain, 0, 'control: the plain timer judged before the poll phase read the byte');
      assert.equal(awake, 1, 'the awake deadline saw the answer');
    } finally {
      client.destroy();
      peer.destroy();
      server.close();
    }
  });
});
