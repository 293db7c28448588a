// Writing an undici response into a node:http ServerResponse, the same at both ends of the v2
// tunnel (agentk answering kas, kas answering its client).
import type * as http from 'node:http';
import { smallContentLength } from './protocol';

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
    if (this.res.write(chunk) || this.holding) return true;
    this.res.once('drain', this.resume);
    return false;
  }

  private readonly flushTurn = () => {
    this.res.uncork();
    if (!this.bodyStarted && !this.res.writableEnded && !this.res.destroyed) this.res.flushHeaders();
  };
}
