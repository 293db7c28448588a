// agentk's tunnel call (grpc_client.ts ClientCall) against a real node:http2 server speaking the
// gRPC wire format: the Duplex-like surface the pool and the forwarder rely on (pause/resume with
// messages kept in order, 'end'/'status', backpressure and 'drain', end() and 'finish', cancel()),
// now that the call is a light EventEmitter rather than a stream.Duplex.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {
  NativeGrpcChannel,
  type CallCodec,
  type CallStatus,
  type ClientCall,
} from '../../../agent/modules/reverse_tunnel/agent/grpc_client';
import { GRPC_CONTENT_TYPE, MessageDecoder, frameMessage } from '../../../agent/modules/reverse_tunnel/grpc_wire';
import { quietLogger } from './harness';

const BYTES_CODEC: CallCodec<Buffer, Buffer> = { serialize: (b) => b, deserialize: (b) => b };

type Handler = (stream: http2.ServerHttp2Stream) => void;

describe('tunnel: agentk call surface over HTTP/2', function () {
  this.timeout(20_000);
  let server: http2.Http2Server;
  let channel: NativeGrpcChannel;
  let handler: Handler;

  beforeEach(async () => {
    server = http2.createServer();
    server.on('stream', (stream) => handler(stream));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    channel = new NativeGrpcChannel({
      authority: `127.0.0.1:${port}`,
      scheme: 'http',
      connect: () =>
        new Promise((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
        }),
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 20_000,
      flowControlWindow: 65_535,
      logger: quietLogger,
    });
  });

  afterEach(async () => {
    channel.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function open(): ClientCall<Buffer, Buffer> {
    return channel.openCall('/test.Service/Method', { authorization: 'Bearer x' }, BYTES_CODEC);
  }

  /** The status the call ends with (events.once would reject on the 'error' that precedes it). */
  function statusOf(call: ClientCall<Buffer, Buffer>): Promise<CallStatus> {
    call.on('error', () => undefined);
    return new Promise((resolve) => call.once('status', resolve));
  }

  /** Answers with headers, then these messages in one write, then OK trailers. */
  function answerWith(messages: string[]): Handler {
    return (stream) => {
      stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(messages.map((m) => frameMessage(Buffer.from(m)))));
    };
  }

  it('keeps messages that arrive while paused, delivers them in order after resume, then ends with OK', async () => {
    handler = answerWith(['one', 'two', 'three']);
    const call = open();
    const status = statusOf(call);
    const received: string[] = [];
    const first = new Promise<void>((resolve) =>
      call.once('data', (message: Buffer) => {
        received.push(message.toString());
        call.pause(); // as the forwarder does until its upstream request exists
        resolve();
      }),
    );
    call.end();
    await first; // on a loaded machine the answer may take longer than any fixed wait
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(received, ['one'], 'nothing is delivered while paused');
    const ended = once(call, 'end');
    call.on('data', (message: Buffer) => received.push(message.toString()));
    call.resume();
    await ended;
    assert.deepEqual(received, ['one', 'two', 'three']);
    assert.equal((await status).code, grpc.status.OK);
  });

  it('sends frames written before the connection was up, and END_STREAM after them; finish follows end()', async () => {
    const seen = new Promise<string[]>((resolve) => {
      handler = (stream) => {
        const decoder = new MessageDecoder();
        const messages: string[] = [];
        stream.on('data', (chunk: Buffer) => messages.push(...decoder.push(chunk).map((m) => m.toString())));
        stream.on('end', () => {
          resolve(messages);
          answerWith([])(stream);
        });
      };
    });
    const call = open(); // the channel dials on this first call: the writes wait for the session
    const status = statusOf(call);
    call.cork();
    assert.equal(call.write(Buffer.from('descriptor')), true);
    call.write(Buffer.from('header'));
    call.uncork();
    const finished = once(call, 'finish');
    call.end(Buffer.from('trailer'));
    assert.equal(call.writable, false, 'not writable after end()');
    assert.equal(call.write(Buffer.from('late')), true, 'a write after end() is dropped quietly');
    await finished;
    assert.deepEqual(await seen, ['descriptor', 'header', 'trailer']);
    assert.equal((await status).code, grpc.status.OK);
  });

  it('reports backpressure: write() returns false when HTTP/2 cannot take more, and drain follows once kas reads', async () => {
    let serverStream: http2.ServerHttp2Stream | undefined;
    const arrived = new Promise<void>((resolve) => {
      handler = (stream) => {
        serverStream = stream;
        stream.pause(); // kas does not read: the 64 KiB stream window fills
        stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE });
        resolve();
      };
    });
    const call = open();
    const status = statusOf(call);
    call.write(Buffer.from('first'));
    await arrived;
    const chunk = Buffer.alloc(64 * 1024, 1);
    let writes = 0;
    while (call.write(chunk)) {
      writes++;
      assert.ok(writes < 1000, 'write() never reported backpressure');
    }
    const drained = once(call, 'drain');
    serverStream!.resume();
    await drained;
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
  });

  it('cancel() resets the stream: kas sees it closed, and the call ends CANCELLED with an error event', async () => {
    const reset = new Promise<number>((resolve) => {
      handler = (stream) => {
        stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE });
        stream.on('close', () => resolve(stream.rstCode));
        stream.on('error', () => undefined);
      };
    });
    const call = open();
    const errors: Error[] = [];
    call.on('error', (err: Error) => errors.push(err));
    await once(call, 'metadata'); // kas accepted
    const status = new Promise<CallStatus>((resolve) => call.once('status', resolve));
    const closed = new Promise((resolve) => call.once('close', resolve));
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
    assert.equal(errors.length, 1);
    assert.equal(await reset, http2.constants.NGHTTP2_CANCEL);
    await closed;
  });

  it('ends with kas status and details from the trailers when kas refuses the call', async () => {
    handler = (stream) =>
      stream.respond(
        {
          ':status': 200,
          'content-type': GRPC_CONTENT_TYPE,
          'grpc-status': String(grpc.status.UNAUTHENTICATED),
          'grpc-message': 'invalid%20agent%20token',
        },
        { endStream: true },
      );
    const call = open();
    const status = await statusOf(call);
    assert.equal(status.code, grpc.status.UNAUTHENTICATED);
    assert.equal(status.details, 'invalid agent token');
    assert.equal(status.fromKas, true);
  });
});
