// Joins an open WebSocket and a native socket (the loopback hop that keeps HTTP/2 on a native
// socket on both ends of ws:// and wss:// agent connections), with backpressure both ways.
// Direct on the WebSocket rather than through ws's createWebSocketStream: that Duplex added a
// stream layer and a send callback per chunk on both sides of every tunnel frame.
import type * as net from 'node:net';
import type WebSocket from 'ws';

/** Bytes queued on the WebSocket beyond which the socket stops being read until they are sent. */
const WEBSOCKET_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * Pipes socket bytes into binary WebSocket messages and WebSocket messages into the socket until
 * either side closes; then closes the other. `ws` must be open. onError hears the first error.
 */
export function joinWebSocketAndSocket(ws: WebSocket, socket: net.Socket, onError: (err: Error) => void): void {
  let closed = false;
  const closeBoth = (err?: Error) => {
    if (closed) return;
    closed = true;
    if (err) onError(err);
    socket.destroy();
    ws.terminate();
  };
  ws.on('error', closeBoth);
  socket.on('error', closeBoth);
  ws.on('close', () => closeBoth());
  socket.on('close', () => closeBoth());
  // The socket's end (HTTP/2 finished with the connection): a clean WebSocket close.
  socket.on('end', () => ws.close());
  socket.on('data', (chunk: Buffer) => sendWithBackpressure(ws, socket, chunk));
  ws.on('message', (data: Buffer) => {
    if (!socket.write(data)) {
      ws.pause();
      socket.once('drain', () => ws.resume());
    }
  });
}

function sendWithBackpressure(ws: WebSocket, socket: net.Socket, chunk: Buffer): void {
  if (ws.readyState !== ws.OPEN) return; // closing: the close handlers end both sides
  const overHighWater = ws.bufferedAmount + chunk.length > WEBSOCKET_HIGH_WATER_BYTES;
  // Only a chunk past the high-water mark waits for its send callback (earlier ones went first).
  ws.send(chunk, { binary: true }, overHighWater ? () => socket.resume() : undefined);
  if (overHighWater) socket.pause();
}
