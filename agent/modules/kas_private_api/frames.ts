// Tunnel frames between replicas over one WebSocket per proxied request: body bytes
// (message.data) travel as binary WebSocket messages, every other frame as JSON text.
import type { ConnectRequest, ConnectResponse } from '../reverse_tunnel/protocol';
import type WebSocket from 'ws';

export type Frame = ConnectRequest | ConnectResponse;

export function sendFrame(ws: WebSocket, frame: Frame, callback?: (err?: Error) => void): void {
  const data = 'message' in frame && frame.message ? frame.message.data : undefined;
  if ('message' in frame && frame.message) ws.send(data ?? Buffer.alloc(0), { binary: true }, callback);
  else ws.send(JSON.stringify(frame), { binary: false }, callback);
}

export function decodeFrame<T extends Frame>(data: WebSocket.RawData, isBinary: boolean): T {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (isBinary) return { message: { data: bytes } } as unknown as T;
  return JSON.parse(bytes.toString('utf8')) as T;
}
