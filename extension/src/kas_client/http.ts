// A small HTTP(S) client for kas's REST API (the cluster is reached with client-node, kube/). No
// redirects ever (a 3xx is an error, so a user-supplied URL cannot bounce us elsewhere), a
// timeout on every request, an optional CA, and errors mapped to codes (errors.ts).
import * as http from 'node:http';
import * as https from 'node:https';
import { readFile } from 'node:fs/promises';
import { KasClientError, codeForNetworkError, codeForStatus, kasRefusedCredentials } from './errors';

export interface HttpTarget {
  /** Base URL; request paths are appended to it (so a path prefix like /k8s-proxy/ is kept). */
  baseUrl: string;
  /** The full Authorization header value. */
  authorization: string;
  /** PEM of the CA that signs the server certificate, when not a public one. */
  caPem?: string;
  /** Time allowed until response headers arrive. */
  timeoutMs?: number;
  /**
   * True for kas's own REST API: nothing stands behind it, so every 401 is kas refusing the
   * token. Behind the k8s proxy, only a 401 with kas's marker header is.
   */
  unauthorizedMeansKas?: boolean;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  contentType?: string;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** Answers larger than this are refused, so a hostile server cannot exhaust memory. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export async function readCaFile(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new KasClientError('CA_FILE_UNREADABLE');
  }
}

export function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KasClientError('BAD_URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KasClientError('BAD_URL');
  if (url.username || url.password) throw new KasClientError('BAD_URL');
  return url;
}

export function joinUrl(baseUrl: string, path: string): URL {
  const base = parseHttpUrl(baseUrl);
  const joined = `${base.origin}${base.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return new URL(joined);
}

/**
 * Sends a request and resolves with the response once its status is known to be 2xx; any other
 * status rejects with a KasClientError (after draining the body). The timeout covers the wait
 * for headers only, so long streams (watch, logs) stay open.
 */
export function openResponse(target: HttpTarget, path: string, options: RequestOptions = {}): Promise<http.IncomingMessage> {
  const url = joinUrl(target.baseUrl, path);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: http.OutgoingHttpHeaders = { Authorization: target.authorization, Accept: 'application/json' };
  if (payload) {
    headers['Content-Type'] = options.contentType ?? 'application/json';
    headers['Content-Length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const request = transport.request(url, {
      method: options.method ?? 'GET',
      headers,
      ca: target.caPem,
      signal: options.signal,
      agent: false,
    });
    const timer = setTimeout(() => request.destroy(new KasClientError('TIMEOUT')), target.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    request.on('response', (response) => {
      clearTimeout(timer);
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) return resolve(response);
      response.resume();
      const fromKas = target.unauthorizedMeansKas === true || kasRefusedCredentials((name) => response.headers[name]);
      reject(new KasClientError(codeForStatus(status, fromKas), status));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error instanceof KasClientError ? error : new KasClientError(codeForNetworkError(error)));
    });
    request.end(payload);
  });
}

export async function readBody(response: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      response.destroy();
      throw new KasClientError('BAD_RESPONSE');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A request whose 2xx answer is JSON (or empty). */
export async function requestJson<T>(target: HttpTarget, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await openResponse(target, path, options);
  // A server that sends headers and then stalls the body must not hang the caller either.
  const timer = setTimeout(() => response.destroy(new KasClientError('TIMEOUT')), target.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let body: Buffer;
  try {
    body = await readBody(response);
  } catch (error) {
    throw error instanceof KasClientError ? error : new KasClientError('UNREACHABLE');
  } finally {
    clearTimeout(timer);
  }
  if (body.length === 0) return undefined as T;
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new KasClientError('BAD_RESPONSE');
  }
}
