// Small HTTP helpers: bounded body reading, JSON/YAML decoding, JSON and Status responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest, toStatus, type Status } from '../status';

/** The largest request body accepted, as in kube-apiserver. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume(); // drain so the response can still be written on this connection
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `the request body is larger than the limit of ${limit} bytes`);
}

/** Parses a request body as JSON, or YAML when the content type says so; 400 on malformed input. */
export function decodeBody(body: Buffer, contentType: string | undefined): unknown {
  if (/protobuf/i.test(contentType ?? '')) {
    throw new ApiError(415, 'UnsupportedMediaType', `the dev cluster accepts JSON and YAML bodies, not ${contentType ?? ''}`);
  }
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  const isYaml = /yaml/i.test(contentType ?? '');
  let decoded: unknown;
  try {
    decoded = isYaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`the request body is not valid ${isYaml ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (nestingDepth(decoded) > MAX_NESTING_DEPTH) throw badRequest(`the request body is nested more than ${MAX_NESTING_DEPTH} levels deep`);
  return decoded;
}

/** Deeper than any Kubernetes object; keeps recursive patching and copying off the stack limit. */
export const MAX_NESTING_DEPTH = 100;

/** How deeply objects and arrays nest, counted without recursion (bounded by the limit + 1). */
function nestingDepth(value: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_NESTING_DEPTH) return deepest;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return deepest;
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-cache, private',
  });
  res.end(payload);
}

export function sendStatus(res: ServerResponse, status: Status): void {
  sendJson(res, status.code, status);
}

export function sendError(res: ServerResponse, err: unknown): void {
  sendStatus(res, toStatus(err));
}
