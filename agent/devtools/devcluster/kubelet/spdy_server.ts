// The server side of SPDY/3.1 as Kubernetes' streaming protocols use it (moby/spdystream on the
// client): SYN_STREAM opens a stream with plain headers (no HTTP pseudo-headers, which is why an
// HTTP-over-SPDY library does not fit), SYN_REPLY accepts it, data frames carry bytes, FIN ends a
// direction, RST_STREAM aborts. Header blocks are zlib-compressed with the SPDY dictionary, one
// zlib stream per direction. spdystream does no flow control, so WINDOW_UPDATE is ignored.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import spdyDictionary from 'spdy-transport/lib/spdy-transport/protocol/spdy/dictionary';

const VERSION = 3;
const TYPE = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
const FLAG_FIN = 0x01;
const MAX_FRAME = 16 * 1024 * 1024;
const DATA_CHUNK = 32 * 1024;
const RST_CANCEL = 5;

export class SpdyProtocolError extends Error {
  override name = 'SpdyProtocolError';
}

/** One SPDY stream as a Duplex: what the peer sends is read, what is written goes to the peer. */
export class SpdyStream extends Duplex {
  constructor(
    readonly id: number,
    readonly headers: Record<string, string>,
    private readonly session: SpdyServerSession,
  ) {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.session.sendData(this.id, chunk, false);
    callback();
  }
  override _final(callback: (error?: Error | null) => void): void {
    this.session.sendData(this.id, Buffer.alloc(0), true);
    callback();
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.session.forget(this.id, true);
    callback(error);
  }
}

function zlibRun(stream: zlib.Inflate | zlib.Deflate, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    stream.on('data', onData);
    stream.once('error', reject);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

function encodeHeaders(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const entries = Object.entries(headers);
  parts.push(u32(entries.length));
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(value);
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

function decodeHeaders(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let offset = 0;
  const read = (): string => {
    if (offset + 4 > block.length) throw new SpdyProtocolError('truncated header block');
    const length = block.readUInt32BE(offset);
    offset += 4;
    if (offset + length > block.length) throw new SpdyProtocolError('truncated header block');
    const text = block.subarray(offset, offset + length).toString('utf8');
    offset += length;
    return text;
  };
  if (block.length < 4) throw new SpdyProtocolError('truncated header block');
  const count = block.readUInt32BE(0);
  offset = 4;
  for (let i = 0; i < count; i++) {
    const name = read().toLowerCase();
    // Several values travel NUL-separated; the first is the one streaming headers use.
    headers[name] = read().split('\0')[0] ?? '';
  }
  return headers;
}

/** The server end of one SPDY connection over `transport` (a socket or a tunneled WebSocket). */
export class SpdyServerSession extends EventEmitter<{ stream: [SpdyStream]; close: [] }> {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflater = zlib.createInflate({ dictionary: spdyDictionary[3] });
  private readonly deflater = zlib.createDeflate({ dictionary: spdyDictionary[3] });
  private buffered = Buffer.alloc(0);
  /** Frames are handled, and header blocks compressed, strictly in order. */
  private incoming: Promise<void> = Promise.resolve();
  private outgoing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly transport: Duplex) {
    super();
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.once('close', () => this.close());
    transport.on('error', () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
    this.inflater.close();
    this.deflater.close();
    this.transport.destroy();
    this.emit('close');
  }

  reply(stream: SpdyStream, headers: Record<string, string> = {}): void {
    this.queueControl(TYPE.synReply, 0, async () => {
      const id = Buffer.alloc(4);
      id.writeUInt32BE(stream.id & 0x7fffffff);
      return Buffer.concat([id, await zlibRun(this.deflater, encodeHeaders(headers))]);
    });
  }

  sendData(id: number, data: Buffer, fin: boolean): void {
    if (this.closed) return;
    this.outgoing = this.outgoing.then(() => {
      for (let offset = 0; offset < data.length || (fin && offset === 0); offset += DATA_CHUNK) {
        const chunk = data.subarray(offset, offset + DATA_CHUNK);
        const last = offset + DATA_CHUNK >= data.length;
        const header = Buffer.alloc(8);
        header.writeUInt32BE(id & 0x7fffffff, 0);
        header.writeUInt32BE(((fin && last ? FLAG_FIN : 0) << 24) | chunk.length, 4);
        this.write(Buffer.concat([header, chunk]));
        if (data.length === 0) break;
      }
    });
  }

  forget(id: number, reset: boolean): void {
    if (!this.streams.delete(id) || !reset || this.closed) return;
    this.queueControl(TYPE.rstStream, 0, async () => {
      const body = Buffer.alloc(8);
      body.writeUInt32BE(id & 0x7fffffff, 0);
      body.writeUInt32BE(RST_CANCEL, 4);
      return body;
    });
  }

  private write(frame: Buffer): void {
    if (!this.closed && this.transport.writable) this.transport.write(frame);
  }

  private queueControl(type: number, flags: number, body: () => Promise<Buffer>): void {
    this.outgoing = this.outgoing
      .then(async () => {
        const payload = await body();
        const header = Buffer.alloc(8);
        header.writeUInt16BE(0x8000 | VERSION, 0);
        header.writeUInt16BE(type, 2);
        header.writeUInt32BE((flags << 24) | payload.length, 4);
        this.write(Buffer.concat([header, payload]));
      })
      .catch(() => this.close());
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 8) {
      const length = this.buffered.readUInt32BE(4) & 0xffffff;
      if (length > MAX_FRAME) return this.close();
      if (this.buffered.length < 8 + length) return;
      const frame = this.buffered.subarray(0, 8 + length);
      this.buffered = this.buffered.subarray(8 + length);
      this.incoming = this.incoming.then(() => this.handleFrame(frame)).catch(() => this.close());
    }
  }

  private async handleFrame(frame: Buffer): Promise<void> {
    const flags = frame[4]!;
    const body = frame.subarray(8);
    if ((frame[0]! & 0x80) === 0) return this.handleData(frame.readUInt32BE(0) & 0x7fffffff, flags, body);
    const type = frame.readUInt16BE(2);
    if (type === TYPE.synStream) return this.handleSynStream(flags, body);
    if (type === TYPE.rstStream) return void this.streams.get(body.readUInt32BE(0) & 0x7fffffff)?.destroy();
    if (type === TYPE.ping) return this.queueControl(TYPE.ping, 0, async () => body);
    if (type === TYPE.goAway) return this.close();
    if (type === TYPE.headers) await zlibRun(this.inflater, body.subarray(4)); // keeps the zlib stream in step
  }

  private async handleSynStream(flags: number, body: Buffer): Promise<void> {
    if (body.length < 10) throw new SpdyProtocolError('short SYN_STREAM');
    const id = body.readUInt32BE(0) & 0x7fffffff;
    const headers = decodeHeaders(await zlibRun(this.inflater, body.subarray(10)));
    const stream = new SpdyStream(id, headers, this);
    this.streams.set(id, stream);
    if (flags & FLAG_FIN) stream.push(null);
    this.emit('stream', stream);
  }

  private handleData(id: number, flags: number, body: Buffer): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    if (body.length > 0) stream.push(body);
    if (flags & FLAG_FIN) stream.push(null);
  }
}
