// kas's ServerCall (a light EventEmitter over the HTTP/2 stream, not a Duplex) keeps the Readable
// and Writable behaviour the tunnel relies on: frames wait until someone reads, pause() holds them,
// 'end' comes after the last frame, corked frames leave in one write. And the proxy gives up its
// wait for a tunnel when the client leaves (its abort signal is built only for such waits).
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { startAgentServer, type AgentServer } from '../../../agent/modules/reverse_tunnel';
import { GRPC_CONTENT_TYPE, MessageDecoder, frameMessage } from '../../../agent/modules/reverse_tunnel/grpc_wire';
import {
  deserializeConnectResponse,
  reverseTunnelServiceDefinition,
  serializeConnectRequest,
  type ConnectRequest,
  type ConnectResponse,
} from '../../../agent/modules/reverse_tunnel/protocol';
import type { GrpcServiceRegistrar, ServerCall } from '../../../agent/modules/reverse_tunnel/server/grpc_server';
import { AGENT_ID, quietLogger, startAgentk, startKas, useUpstreamFixture, userAuth, waitForIdleTunnels } from './harness';

/** An agent server whose Connect handler hands each call to the test. */
async function startCallServer(): Promise<{ server: AgentServer; nextCall(): Promise<ServerCall> }> {
  const pending: Array<(call: ServerCall) => void> = [];
  const arrived: ServerCall[] = [];
  const service = (registrar: GrpcServiceRegistrar) => {
    const connect = (call: ServerCall) => {
      const waiter = pending.shift();
      if (waiter) waiter(call);
      else arrived.push(call);
    };
    registrar.addService(reverseTunnelServiceDefinition, { Connect: connect as never });
  };
  const server = await startAgentServer({ address: '127.0.0.1:0', services: [service], logger: quietLogger });
  return {
    server,
    nextCall: () => {
      const call = arrived.shift();
      return call ? Promise.resolve(call) : new Promise((resolve) => pending.push(resolve));
    },
  };
}

function openConnect(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
  return session.request({
    ':method': 'POST',
    ':path': reverseTunnelServiceDefinition.Connect!.path,
    'content-type': GRPC_CONTENT_TYPE,
    te: 'trailers',
  });
}

function frame(request: ConnectRequest): Buffer {
  return frameMessage(serializeConnectRequest(request));
}

function collect(call: ServerCall): { frames: ConnectRequest[]; ended: Promise<void> } {
  const frames: ConnectRequest[] = [];
  call.on('data', (f: ConnectRequest) => frames.push(f));
  return { frames, ended: new Promise((resolve) => call.once('end', () => resolve())) };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tunnel: kas ServerCall keeps the stream behaviour the tunnel relies on', function () {
  this.timeout(30_000);
  let server: AgentServer;
  let nextCall: () => Promise<ServerCall>;
  let session: http2.ClientHttp2Session;

  beforeEach(async () => {
    ({ server, nextCall } = await startCallServer());
    session = http2.connect(`http://${server.address}`);
    session.on('error', () => undefined);
  });
  afterEach(async () => {
    session.destroy();
    await server.stop();
  });

  it('keeps frames that arrive before anyone reads, then delivers them in order and ends after the last', async () => {
    const stream = openConnect(session);
    stream.write(
      Buffer.concat([
        frame({ descriptor: { version: 'v1' } }),
        frame({ header: { status: 200 } }),
        frame({ message: { data: Buffer.from('body') } }),
      ]),
    );
    stream.end(frame({ trailer: {} }));
    const call = await nextCall();
    await tick(100); // everything has arrived by now, and nobody has read
    const { frames, ended } = collect(call);
    await ended;
    assert.deepEqual(
      frames.map((f) => Object.keys(f).find((k) => (f as Record<string, unknown>)[k])),
      ['descriptor', 'header', 'message', 'trailer'],
    );
    assert.equal(Buffer.from(frames[2]!.message!.data!).toString(), 'body');
    call.end();
  });

  it('holds frames while paused and delivers them, then the end, on resume', async () => {
    const stream = openConnect(session);
    const call = await nextCall();
    const { frames, ended } = collect(call);
    stream.write(frame({ descriptor: {} }));
    await tick(50);
    call.pause();
    assert.equal(call.isPaused(), true);
    stream.end(Buffer.concat([frame({ header: { status: 201 } }), frame({ trailer: {} })]));
    let endedEarly = false;
    void ended.then(() => (endedEarly = true));
    await tick(100);
    assert.equal(frames.length, 1, 'only the frame before pause() was delivered');
    assert.equal(endedEarly, false, "no 'end' while frames are held");
    call.resume();
    await ended;
    assert.equal(frames.length, 3);
    assert.equal(frames[1]!.header!.status, 201);
    call.end();
  });

  it('sends frames written while corked in one write, and ends the call with grpc-status 0', async () => {
    const stream = openConnect(session);
    stream.write(frame({ descriptor: {} }));
    const call = await nextCall();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve));
    call.cork();
    assert.equal(call.write({ requestInfo: { methodName: 'm' } } satisfies ConnectResponse), true);
    assert.equal(call.write({ closeSend: {} } satisfies ConnectResponse), true);
    await tick(50);
    assert.equal(chunks.length, 0, 'nothing left while corked');
    call.uncork();
    call.end();
    assert.equal((await trailers)['grpc-status'], '0');
    assert.equal(chunks.length, 1, 'both frames in one DATA chunk');
    const decoded = new MessageDecoder().push(chunks[0]!).map((bytes) => deserializeConnectResponse(bytes));
    assert.equal(decoded.length, 2);
    assert.equal(decoded[0]!.requestInfo?.methodName, 'm');
    assert.ok(decoded[1]!.closeSend);
    assert.equal(call.writable, false, 'not writable after end()');
  });

  it("reports a client's cancel as 'cancelled', an error and 'close', and is no longer writable", async () => {
    const stream = openConnect(session);
    stream.write(frame({ descriptor: {} }));
    const call = await nextCall();
    const events: string[] = [];
    call.on('cancelled', () => events.push('cancelled'));
    call.on('error', () => events.push('error'));
    const closed = new Promise<void>((resolve) => call.once('close', () => resolve()));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await closed;
    assert.deepEqual(events, ['cancelled', 'error']);
    assert.equal(call.cancelled, true);
    assert.equal(call.writable, false);
  });
});

describe('tunnel: the k8s proxy stops waiting for a tunnel when its client leaves', function () {
  this.timeout(60_000);
  const fixture = useUpstreamFixture();
  const { cleanups } = fixture;

  it('leaves no waiter behind: a tunnel that registers later stays idle', async () => {
    const kas = await startKas({ agentWaitTimeoutMs: 20_000 });
    cleanups.push(() => kas.stop());
    const req = http.request(`${kas.proxyUrl}/stream`, { headers: userAuth() });
    req.on('error', () => undefined);
    req.end();
    await tick(200); // kas is waiting for a tunnel to agent AGENT_ID
    req.destroy();
    await tick(100);
    const agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig: fixture.kubeconfig });
    cleanups.push(() => agentk.stop());
    await waitForIdleTunnels(kas.registry, 2);
    await tick(300);
    const counts = kas.registry.counts().find((c) => c.agentId === AGENT_ID);
    assert.equal(counts?.busy, 0, 'no tunnel was claimed for the client that left');
  });
});
