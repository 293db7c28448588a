// What travels on a WebSocket between two replicas. The connection stays open and carries one
// proxied request after another (the routing replica keeps a pool of them per peer):
//   routing → holder: {"kas":"claim","agentId","token"}   (a fresh signed token on every claim)
//   holder → routing: {"kas":"ready","descriptor"} or {"kas":"none","reason"}
//   then tunnel frames both ways until each side sends {"kas":"end"} (or the holder {"kas":"error"}),
//   after which the connection is free for the next claim.
// Tunnel frames: body bytes (message.data) travel as binary WebSocket messages, every other frame
// as JSON text; control messages are JSON text with a "kas" key, which no tunnel frame has. The
// one bytes field a JSON frame can hold, request_info.header, travels as base64.
import { messageBytes, type AgentDescriptor, type ConnectRequest, type ConnectResponse } from '../../reverse_tunnel/protocol';
import type WebSocket from 'ws';

export type Frame = ConnectRequest | ConnectResponse;

export type Control =
  | { kas: 'claim'; agentId: string; token: string }
  | { kas: 'ready'; descriptor: AgentDescriptor }
  | { kas: 'none'; reason: string }
  | { kas: 'end' }
  | { kas: 'error'; reason: string };

export function sendFrame(ws: WebSocket, frame: Frame, callback?: (err?: Error) => void): void {
  if ('message' in frame && frame.message) ws.send(messageBytes(frame.message), { binary: true }, callback);
  else ws.send(JSON.stringify(frame, bytesAsBase64), { binary: false }, callback);
}

// JSON.stringify hands a replacer a Buffer already turned into {type, data}: read the raw value.
function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
}

export function sendControl(ws: WebSocket, control: Control): void {
  ws.send(JSON.stringify(control), { binary: false });
}

/** A tunnel frame or a control message; throws on text that is not JSON. */
export function decodeMessage<T extends Frame>(data: WebSocket.RawData, isBinary: boolean): { frame: T } | { control: Control } {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (isBinary) return { frame: { message: { data: bytes } } as unknown as T };
  const parsed = JSON.parse(bytes.toString('utf8')) as T | Control;
  if ('kas' in parsed) return { control: parsed };
  const requestInfo = (parsed as ConnectResponse).requestInfo;
  if (typeof requestInfo?.header === 'string') requestInfo.header = Buffer.from(requestInfo.header, 'base64');
  return { frame: parsed as T };
}
