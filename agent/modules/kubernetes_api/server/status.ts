// kas's own answers on the proxy path, as Kubernetes Status objects so kubectl and client
// libraries print them well. Messages start with kas's server name, so a reader can tell kas's
// errors from the cluster's; reasons are the reference's (a status it does not map gets none).
import type * as http from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { KAS_VERSION } from '../../../internal/version';
import { KAS_UNAUTHORIZED_HEADER } from '../../../shared/kas_api';

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export interface KasError {
  status: number;
  message: string;
  /** Sent as Retry-After (429). */
  retryAfterSeconds?: number;
}

/** kas as it names itself in Server (on its own answers) and Via: `<name>/<version>`. */
export function kasIdentity(serverName: string): string {
  return `${serverName}/${KAS_VERSION}`;
}

/** The Via entry kas appends on the request to the cluster and on the response: the reference's form. */
export function kasVia(serverName: string): string {
  return `gRPC/1.0 ${kasIdentity(serverName)}`;
}

export function statusBody(serverName: string, error: KasError): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${serverName}: ${error.message}`,
    reason: REASONS[error.status], // absent (StatusReasonUnknown) where the reference maps none, e.g. 502
    code: error.status,
  });
}

function statusHeaders(serverName: string, body: string, error: KasError): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    server: kasIdentity(serverName),
  };
  // Every 401 of kas's is an authentication failure of kas's: the marker tells it from a cluster's 401.
  if (error.status === 401) headers[KAS_UNAUTHORIZED_HEADER] = 'true';
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return headers;
}

export function sendStatus(res: http.ServerResponse, serverName: string, error: KasError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = statusBody(serverName, error);
  res.writeHead(error.status, statusHeaders(serverName, body, error));
  res.end(body);
}

/** The same, written raw on a socket whose upgrade request kas refuses. */
export function sendStatusOnSocket(socket: Duplex, serverName: string, error: KasError): void {
  if (!socket.writable) return;
  const body = statusBody(serverName, error);
  const headers = { ...statusHeaders(serverName, body, error), connection: 'close' };
  const head = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${body}`);
}
