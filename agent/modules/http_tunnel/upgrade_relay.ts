// Both ends: an upgraded request relayed between a raw client socket and the socket undici hands
// over after the 101 (kas: client ↔ agent connection; agentk: agent connection ↔ API server). An
// answer without the upgrade (a refusal) is written raw too, and ends with the connection.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

export interface UpgradeRelayHooks {
  /** The answer's status, once. */
  answered(status: number): void;
  /** Nothing was answered: the caller writes its own error on the socket. */
  failed(err: Error): void;
  /** Response headers to pass on (lower-case name), besides those that describe the connection. */
  forwards(name: string): boolean;
}

export class UpgradeRelay implements Dispatcher.DispatchHandler {
  private done = false;
  private answered = false;

  constructor(
    private readonly socket: Duplex,
    /** Bytes the client sent after its request head, for the upgraded connection. */
    private readonly head: Buffer,
    private readonly hooks: UpgradeRelayHooks,
  ) {
    socket.once('close', () => (this.done = true));
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) abort(new Error('the client left'));
    else this.socket.once('close', () => abort(new Error('the client left')));
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upgraded: Duplex): void {
    this.answered = true;
    this.hooks.answered(statusCode);
    const head = this.responseHead(statusCode, http.STATUS_CODES[statusCode] ?? '', rawHeaders ?? [], 'Upgrade');
    this.socket.write(head);
    if (this.head.length > 0) upgraded.write(this.head);
    joinSockets(this.socket, upgraded);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    this.answered = true;
    this.hooks.answered(statusCode);
    this.socket.write(this.responseHead(statusCode, statusText, rawHeaders, 'close'));
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  onComplete(): void {
    this.done = true;
    this.socket.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    if (this.answered) this.socket.destroy();
    else this.hooks.failed(err);
  }

  /** A raw head; without the upgrade there is no framing on the raw socket, so the body ends with it (Connection: close). */
  private responseHead(status: number, reason: string, raw: Buffer[] | string[], connection: 'Upgrade' | 'close'): string {
    let head = `HTTP/1.1 ${status} ${reason || (http.STATUS_CODES[status] ?? '')}\r\n`;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'connection' || lower === 'transfer-encoding' || !this.hooks.forwards(lower)) continue;
      head += `${name}: ${raw[i + 1]!.toString('latin1')}\r\n`;
    }
    return `${head}connection: ${connection}\r\n\r\n`;
  }
}

/** Bytes both ways until either side ends; half-closes pass through, an error or close ends both. */
function joinSockets(a: Duplex, b: Duplex): void {
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}
