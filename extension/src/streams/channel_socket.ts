// A WebSocket to a pod subresource through kas's k8s proxy (pods/exec, pods/attach,
// pods/portforward), speaking Kubernetes' channel protocols: each binary message is one
// channel byte and its payload. No vscode types here, so it runs in tests as it runs in VS Code.
import WebSocket from 'ws';
import type { ClusterParts } from '../kas_client/kube_client';
import { joinUrl } from '../kas_client/http';
import { codeForNetworkError, codeForStatus, KasClientError, kasRefusedCredentials } from '../kas_client/errors';

export type MessageHandler = (data: Buffer, isBinary: boolean) => void;

export interface ChannelSocket {
  ws: WebSocket;
  protocol: string;
  /**
   * Hands every message to `handler`, those that came before too: a server may send frames in the
   * same packet as its 101 (the port-forward's port prefixes do), and ws emits them in the same
   * tick as 'open', before any caller of an awaited open could listen.
   */
  onMessage(handler: MessageHandler): void;
}

/** Opens the WebSocket offering `protocols` (best first); rejects with a KasClientError code. */
export function openChannelSocket(parts: ClusterParts, path: string, protocols: string[]): Promise<ChannelSocket> {
  const url = joinUrl(parts.server, path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, {
      headers: { Authorization: `Bearer ${parts.token}` },
      ca: parts.caPem,
      perMessageDeflate: false,
      followRedirects: false,
      handshakeTimeout: parts.timeoutMs ?? 15_000,
    });
    const early: Array<[Buffer, boolean]> = [];
    const queue = (data: WebSocket.RawData, isBinary: boolean) => early.push([toBuffer(data), isBinary]);
    ws.on('message', queue);
    const onMessage = (handler: MessageHandler) => {
      ws.off('message', queue);
      for (const [data, isBinary] of early.splice(0)) handler(data, isBinary);
      ws.on('message', (data, isBinary) => handler(toBuffer(data), isBinary));
    };
    ws.once('open', () => resolve({ ws, protocol: ws.protocol, onMessage }));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(
        new KasClientError(
          codeForStatus(
            res.statusCode ?? 500,
            kasRefusedCredentials((name) => res.headers[name]),
          ),
        ),
      );
    });
    ws.once('error', (error: NodeJS.ErrnoException) => reject(new KasClientError(codeForNetworkError(error))));
  });
}

export function channelMessage(channel: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from([channel]), body]);
}

export function toBuffer(data: WebSocket.RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
