// kas's own errors on the proxy path, as Kubernetes Status objects so kubectl and client
// libraries print them well. Messages start with kas's server name, so a reader can tell kas's
// errors from the cluster's.
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { KAS_AUTH_ERROR_HEADER } from '../../../shared/kas_api';

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'ServiceUnavailable',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export interface KasError {
  status: number;
  message: string;
  authError?: boolean;
  /** Sent as Retry-After (429). */
  retryAfterSeconds?: number;
}

export function statusBody(serverName: string, error: KasError): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${serverName}: ${error.message}`,
    reason: REASONS[error.status] ?? 'Unknown',
    code: error.status,
  });
}

function statusHeaders(body: string, error: KasError): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  };
  if (error.authError) headers[KAS_AUTH_ERROR_HEADER] = 'true';
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return headers;
}

export function sendStatus(res: http.ServerResponse, serverName: string, error: KasError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = statusBody(serverName, error);
  res.writeHead(error.status, statusHeaders(body, error));
  res.end(body);
}

/** The same, written raw on a socket whose upgrade request kas refuses. */
export function sendStatusOnSocket(socket: Duplex, serverName: string, error: KasError): void {
  if (!socket.writable) return;
  const body = statusBody(serverName, error);
  const headers = { ...statusHeaders(body, error), connection: 'close' };
  const head = [
    `HTTP/1.1 ${error.status} ${REASONS[error.status] ?? 'Error'}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${body}`);
}
