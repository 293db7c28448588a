// kas: the HTTP/1.1 client side of one reverse connection agentk dialed, written by hand. Each
// request is one head written on the socket (one write for a request without a body; head and the
// body bytes already read leave together), and the answer is parsed by Node's own llhttp binding
// (the parser node:http runs on, header names and values as strings) straight into the caller's
// handler. It replaced an undici Client on the socket: in the same runs of
// bench/experiments/kas_layouts.ts (the 'raw' layout runs this class) it took about half of
// undici's CPU per sequential request and came near kubectl proxy at 1 connection, where undici
// reached 0.4× (BENCHMARKS.md, transport v2). One exchange at a time; no pipelining, no queue:
// the registry hands out only idle connections.
//
// The handler's shape is undici's raw dispatch handler (onConnect, onHeaders, onData, onComplete,
// onError, onUpgrade), so the route, the liveness probe and the upgrade relay read the same at
// both ends of the tunnel (agentk's side forwards with undici).
import type { Duplex, Readable } from 'node:stream';

export interface ExchangeRequest {
  method: string;
  /** Path and query, as kas forwards them (already validated by kas's own HTTP server). */
  path: string;
  /** Lower-case names and values, alternating; no Host, Connection, Upgrade or framing headers but content-length. */
  headers: readonly string[];
  /** The request body (kas's IncomingMessage); chunked unless headers carry content-length. */
  body: Readable | null;
  /** Asks for an upgrade to this protocol (exec, attach, port-forward). */
  upgrade?: string;
}

export interface ExchangeHandler {
  /** Called once the request is on its way; abort ends the exchange (and the connection). */
  onConnect(abort: (err?: Error) => void): void;
  /** 1xx answers come here too (false from a final answer's onHeaders ends the exchange). */
  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): boolean;
  /** false pauses the response until resume() is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
  /** The 101 of an upgrade: the socket (with any bytes after the head put back) is the handler's now. */
  onUpgrade?(statusCode: number, rawHeaders: string[], socket: Duplex): void;
}

export class AgentConnectionError extends Error {
  override name = 'AgentConnectionError';
}

// Node's own llhttp binding, as node:http's client and server use it (a stable internal module
// since Node 0.x; the shape below is Node 18-22's).
interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | (Error & { code?: string });
  finish(): number | Error | undefined;
  close(): void;
  [callback: number]: unknown;
}
interface HttpParserClass {
  new (): HttpParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HTTPParser } = require('node:_http_common') as { HTTPParser: HttpParserClass };

/** What llhttp's on_headers_complete returns: parse a body, no body (HEAD, 1xx), no body and stop (upgrade). */
const PARSE_BODY = 0;
const SKIP_BODY = 1;
const SKIP_BODY_UPGRADE = 2;

interface Current {
  handler: ExchangeHandler;
  request: ExchangeRequest;
  /** Headers llhttp flushed before the head was complete (a head over several reads). */
  partialHeaders?: string[];
  /** A final answer (not a 1xx) came. */
  answered: boolean;
}

export class Http1ClientConnection {
  private readonly parser = new HTTPParser();
  private current: Current | undefined;
  private closed = false;
  private keepAlive = true;
  /** The 101 of an upgrade, parsed: the socket is handed over once the parser returns. */
  private upgraded: { status: number; headers: string[] } | undefined;

  constructor(
    private readonly socket: Duplex,
    /** The Host header kas sends (agentk's node:http wants one on HTTP/1.1). */
    private readonly host: string,
  ) {
    const parser = this.parser;
    parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    parser[HTTPParser.kOnHeaders] = this.onParserHeaders;
    parser[HTTPParser.kOnHeadersComplete] = this.onParserHeadersComplete;
    parser[HTTPParser.kOnBody] = this.onParserBody;
    parser[HTTPParser.kOnMessageComplete] = this.onParserMessageComplete;
    socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.once('close', this.onSocketClose);
  }

  /** Gone: the socket closed, an exchange broke it, or agentk asked to close after its answer. */
  get destroyed(): boolean {
    return this.closed;
  }

  /** Sends the request; the handler hears everything from here on. The connection must be idle. */
  dispatch(request: ExchangeRequest, handler: ExchangeHandler): void {
    if (this.closed) return handler.onError(new AgentConnectionError('the agent connection closed'));
    if (this.current) return handler.onError(new AgentConnectionError('the agent connection is busy'));
    const current: Current = { handler, request, answered: false };
    this.current = current;
    handler.onConnect((err) => this.abort(current, err ?? new AgentConnectionError('aborted')));
    if (this.current !== current) return; // aborted in onConnect
    let head = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${this.host}\r\n`;
    let hasLength = false;
    const headers = request.headers;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 14 && name === 'content-length') hasLength = true;
      head += `${name}: ${headers[i + 1]!}\r\n`;
    }
    if (request.upgrade !== undefined) head += `connection: upgrade\r\nupgrade: ${request.upgrade}\r\n`;
    const body = request.body;
    if (!body) {
      this.socket.write(`${head}\r\n`, 'latin1');
      return;
    }
    const chunked = !hasLength;
    if (chunked) head += 'transfer-encoding: chunked\r\n';
    // The head and the body bytes kas already holds leave in one write (uncorked after this turn's reads).
    this.socket.cork();
    this.socket.write(`${head}\r\n`, 'latin1');
    setImmediate(uncork, this.socket);
    this.sendBody(current, body, chunked);
  }

  /** Closes the connection; an exchange on it hears an error. */
  destroy(err?: Error): void {
    this.socket.destroy(err);
  }

  private sendBody(current: Current, body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const onDrain = () => body.resume();
    const onData = (chunk: Buffer) => {
      if (this.current !== current || chunk.length === 0) return;
      const more = chunked
        ? socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n')
        : socket.write(chunk);
      if (!more) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      socket.off('drain', onDrain);
    };
    const onEnd = () => {
      cleanup();
      if (this.current === current && chunked) socket.write('0\r\n\r\n');
    };
    const onError = (err: Error) => {
      cleanup();
      this.abort(current, err);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  }

  private abort(current: Current, err: Error): void {
    if (this.current !== current) return;
    this.current = undefined;
    this.closed = true;
    this.socket.destroy();
    current.handler.onError(err);
  }

  private readonly onSocketData = (data: Buffer) => {
    const result = this.parser.execute(data);
    if (result instanceof Error)
      return this.fail(new AgentConnectionError(`the agent sent a malformed response (${result.code ?? 'parse error'})`));
    // After the 101 the bytes belong to the upgraded connection: hand the socket over with the rest.
    if (this.upgraded && this.current) this.handOver(this.current, this.upgraded, data, result);
  };

  private handOver(current: Current, upgraded: { status: number; headers: string[] }, data: Buffer, parsed: number): void {
    const socket = this.socket;
    this.current = undefined;
    this.closed = true;
    socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    socket.off('close', this.onSocketClose);
    socket.pause();
    this.parser.close();
    if (parsed < data.length) socket.unshift(data.subarray(parsed));
    current.handler.onUpgrade?.(upgraded.status, upgraded.headers, socket);
  }

  private readonly onSocketEnd = () => {
    // A body read until the connection's end (no length, not chunked) ends here.
    if (this.current) {
      const result = this.parser.finish();
      if (result instanceof Error) return this.fail(new AgentConnectionError('the agent closed the connection mid-response'));
    }
    this.fail(new AgentConnectionError('the agent closed the connection'));
  };

  private readonly onSocketClose = () => {
    this.closed = true;
    this.fail(new AgentConnectionError('the agent connection closed'));
    this.parser.close();
  };

  private fail(err: Error): void {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    this.socket.destroy();
    current?.handler.onError(err);
  }

  private readonly onParserHeaders = (headers: string[]) => {
    const current = this.current;
    if (current) current.partialHeaders = current.partialHeaders ? current.partialHeaders.concat(headers) : headers;
  };

  private readonly onParserHeadersComplete = (
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    statusCode: number,
    statusText: string,
    upgrade: boolean,
    shouldKeepAlive: boolean,
  ): number => {
    const current = this.current;
    if (!current) {
      // Bytes while no request is out: not our agentk's answer.
      this.fail(new AgentConnectionError('the agent sent an answer nobody asked for'));
      return SKIP_BODY;
    }
    const rawHeaders = current.partialHeaders ? current.partialHeaders.concat(headers ?? []) : (headers ?? []);
    current.partialHeaders = undefined;
    if (statusCode < 200 && statusCode !== 101) {
      current.handler.onHeaders(statusCode, rawHeaders, resumeNothing, statusText);
      return SKIP_BODY;
    }
    current.answered = true;
    if (upgrade && statusCode === 101 && current.request.upgrade !== undefined) {
      this.upgraded = { status: statusCode, headers: rawHeaders };
      return SKIP_BODY_UPGRADE;
    }
    this.keepAlive = shouldKeepAlive;
    if (!current.handler.onHeaders(statusCode, rawHeaders, this.resume, statusText)) {
      this.abort(current, new AgentConnectionError('the response was refused'));
      return SKIP_BODY;
    }
    return current.request.method === 'HEAD' ? SKIP_BODY : PARSE_BODY;
  };

  private readonly resume = () => this.socket.resume();

  private readonly onParserBody = (chunk: Buffer) => {
    const current = this.current;
    if (current?.answered && !current.handler.onData(chunk)) this.socket.pause();
  };

  private readonly onParserMessageComplete = () => {
    const current = this.current;
    // A 1xx ended (the final answer follows), or the 101's head: handed over once execute returns.
    if (!current?.answered || this.upgraded) return;
    this.current = undefined;
    // agentk answered the request without the upgrade, or asked to close: the connection ends here.
    if (!this.keepAlive || current.request.upgrade !== undefined) {
      this.closed = true;
      this.socket.destroy();
    }
    current.handler.onComplete();
  };
}

const uncork = (socket: Duplex) => socket.uncork();
const resumeNothing = () => undefined;
