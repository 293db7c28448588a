// Writing an undici response into a node:http ServerResponse, the same at both ends of the v2
// tunnel (agentk answering kas, kas answering its client).
import type * as http from 'node:http';
import { smallContentLength } from './protocol';

/**
 * How much may wait in the response's buffer before the undici response is paused. Node's
 * highWaterMark (16 KiB) is below one socket read (up to 64 KiB): pausing there paused a fast
 * stream (logs -f) after nearly every piece, a pause/resume cycle each (the gRPC tunnel's
 * TUNNEL_BACKLOG_BYTES, for the same reason).
 */
const BACKLOG_BYTES = 256 * 1024;

export class ResponseWriter {
  private bodyStarted = false;
  private holding = false;

  /** `resume` continues the undici response after the client's 'drain'. */
  constructor(
    private readonly res: http.ServerResponse,
    private readonly resume: () => void,
  ) {}

  /**
   * Call after writeHead. A complete response of known small length leaves in one write at the end
   * (res.end uncorks): its body often arrives in several reads, and a write per read cost a syscall
   * each (profiled). Any other response flushes at the end of each turn, its head alone if no bytes
   * came: a watch may have none for minutes while its client waits for the head.
   */
  headWritten(rawHeaders: Buffer[]): void {
    this.res.cork();
    this.holding = smallContentLength(rawHeaders);
    if (!this.holding) setImmediate(this.flushTurn);
  }

  /** Writes a body chunk; false asks undici to pause until the client drains. */
  write(chunk: Buffer): boolean {
    this.bodyStarted = true;
    // While held, memory is bounded by the content-length, and no 'drain' comes while corked.
    // Past the highWaterMark write() returned false, so a 'drain' comes when the buffer empties.
    if (this.res.write(chunk) || this.holding || this.res.writableLength < BACKLOG_BYTES) return true;
    this.res.once('drain', this.resume);
    return false;
  }

  private readonly flushTurn = () => {
    this.res.uncork();
    if (!this.bodyStarted && !this.res.writableEnded && !this.res.destroyed) this.res.flushHeaders();
  };
}
