// The routing replica's side of a cross-replica tunnel: asks another replica's private API for
// one of its idle tunnels and, when it has one, returns a Tunnel whose stream is a WebSocket
// dressed as the gRPC tunnel stream (same frames, same events), so the Kubernetes API proxy
// streams through it exactly as through a tunnel of its own.
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { AgentDescriptor, ConnectRequest, ConnectResponse } from '../reverse_tunnel/protocol';
import type { Tunnel, TunnelStream } from '../reverse_tunnel/server/registry';
import { decodeFrame, sendFrame } from './frames';
import { signPrivateApiToken } from './token';

/** Gives up on a replica that does not answer the handshake (gone, or its host unreachable). */
const HANDSHAKE_TIMEOUT_MS = 3_000;

/** The remote tunnel stream: object-mode frames in both directions, like the gRPC stream. */
class RemoteTunnelStream extends Duplex {
  constructor(private readonly ws: WebSocket) {
    super({ objectMode: true, allowHalfOpen: true });
    ws.on('message', (data, isBinary) => {
      if (!this.push(decodeFrame<ConnectRequest>(data, isBinary))) ws.pause();
    });
    ws.on('close', (code) => {
      if (code === 1000) this.push(null);
      else this.destroy(new Error(`the tunnel through the other replica closed (${code})`));
    });
    ws.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(frame: ConnectResponse, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return callback(new Error('the other replica closed the tunnel'));
    sendFrame(this.ws, frame, (err) => callback(err ?? null));
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.ws.close(1000, 'done');
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    callback(err);
  }
}

/**
 * An idle tunnel of the replica at `replicaUrl`, or undefined when it has none or cannot be
 * reached (then `onUnreachable` is called: the caller can stop asking it for a while).
 */
export function claimRemoteTunnel(replicaUrl: string, agentId: string, secret: Buffer, onUnreachable?: () => void): Promise<Tunnel | undefined> {
  const url = `${replicaUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/tunnel/${agentId}`;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${signPrivateApiToken(secret)}` }, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, perMessageDeflate: false });
    const giveUp = (unreachable: boolean) => {
      if (unreachable) onUnreachable?.();
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(undefined);
    };
    ws.once('unexpected-response', () => giveUp(false));
    ws.once('error', () => giveUp(true));
    ws.once('close', () => giveUp(false));
    ws.once('message', (data) => {
      ws.removeAllListeners();
      let descriptor: AgentDescriptor;
      try {
        descriptor = (JSON.parse(String(data)) as { ready: AgentDescriptor }).ready;
      } catch {
        return giveUp(false);
      }
      resolve(remoteTunnel(ws, agentId, descriptor));
    });
  });
}

function remoteTunnel(ws: WebSocket, agentId: string, descriptor: AgentDescriptor): Tunnel {
  const stream = new RemoteTunnelStream(ws);
  let finished = false;
  return {
    agentId,
    descriptor,
    // The proxy uses the stream's Duplex surface only (write, end, data/end/error/close, pause).
    stream: stream as unknown as TunnelStream,
    done: () => {
      if (finished) return;
      finished = true;
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    },
  };
}
