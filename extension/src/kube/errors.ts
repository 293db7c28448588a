// client-node failures as the extension's error codes (kasClient/errors.ts). Upstream text
// (ApiException carries the server's body, FetchError the URL) is dropped here: only a code and
// the HTTP status survive, so no token, URL or cluster message reaches a notification or a log.
import { codeForNetworkError, codeForStatus, KasClientError, kasRefusedCredentials } from '../kas_client/errors';

interface FailureShape {
  name?: unknown;
  /** ApiException: the HTTP status. FetchError: a Node error code string. */
  code?: unknown;
  /** Watch's error for a non-200 answer. */
  statusCode?: unknown;
  /** FetchError: 'system', 'request-timeout', 'body-timeout', 'no-redirect', ... */
  type?: unknown;
  headers?: unknown;
}

export function toKasClientError(error: unknown, signal?: AbortSignal): KasClientError {
  if (error instanceof KasClientError) return error;
  if (signal?.aborted) return new KasClientError('CANCELLED');
  const failure = (typeof error === 'object' && error !== null ? error : {}) as FailureShape;
  const status = typeof failure.code === 'number' ? failure.code : typeof failure.statusCode === 'number' ? failure.statusCode : undefined;
  if (status !== undefined) return new KasClientError(codeForStatus(status, kasRefusedToken(failure.headers)), status);
  if (failure.name === 'AbortError') return new KasClientError('CANCELLED');
  if (failure.type === 'request-timeout' || failure.type === 'body-timeout') return new KasClientError('TIMEOUT');
  if (failure.type === 'no-redirect' || failure.type === 'max-redirect') return new KasClientError('REDIRECT_REFUSED');
  if (failure.type === 'system' && typeof failure.code === 'string')
    return new KasClientError(codeForNetworkError(failure as NodeJS.ErrnoException));
  // A body that did not parse, an unexpected shape: nothing the user can act on beyond this.
  return new KasClientError('BAD_RESPONSE');
}

/** kas marks its own 401s (a bad token) so that they differ from the cluster's. */
function kasRefusedToken(headers: unknown): boolean {
  if (typeof headers !== 'object' || headers === null) return false;
  const byName = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value as unknown]));
  return kasRefusedCredentials((name) => byName.get(name));
}

/** Runs a cluster call and maps whatever it throws. */
export async function mapped<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toKasClientError(error, signal);
  }
}
