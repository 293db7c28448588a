// Errors users see: a stable code plus a short explanation written here. Upstream text (kas,
// the cluster, a proxy in between) never reaches the UI: a user-controlled URL could point
// anywhere, and whatever answers there must not be able to put words in our notifications.
import { KAS_UNAUTHORIZED_HEADER, LEGACY_KAS_AUTH_ERROR_HEADER } from '../../../agent/shared/kas_api';

export type KasErrorCode =
  | 'BAD_URL'
  | 'CA_FILE_UNREADABLE'
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'TLS_ERROR'
  | 'REDIRECT_REFUSED'
  | 'KAS_UNAUTHORIZED'
  | 'CLUSTER_UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'GONE'
  | 'AGENT_NOT_CONNECTED'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'BAD_RESPONSE'
  | 'CANCELLED';

const EXPLANATIONS: Record<KasErrorCode, string> = {
  BAD_URL: 'the URL is not a valid http(s) URL',
  CA_FILE_UNREADABLE: 'the CA certificate file could not be read',
  UNREACHABLE: 'nothing answered at that address',
  TIMEOUT: 'the server did not answer in time',
  TLS_ERROR: 'the server certificate was not trusted (check the CA file)',
  REDIRECT_REFUSED: 'the server answered with a redirect, which is never followed',
  KAS_UNAUTHORIZED: 'the token was refused',
  CLUSTER_UNAUTHORIZED: 'the cluster refused the credentials kas forwarded',
  FORBIDDEN: 'you are not allowed to do this',
  NOT_FOUND: 'the object does not exist (any more)',
  CONFLICT: 'the object already exists or changed meanwhile',
  GONE: 'the watched version is too old; reloading',
  AGENT_NOT_CONNECTED: 'the agent is not connected to kas',
  RATE_LIMITED: 'too many requests; try again shortly',
  SERVER_ERROR: 'the server failed to handle the request',
  BAD_RESPONSE: 'the server sent an answer that could not be understood',
  CANCELLED: 'the request was cancelled',
};

/**
 * The Kubernetes layer is a second bundle (dist/extension-kube.js, loaded on first cluster use)
 * with its own copy of this module, so `instanceof` checks a brand from the global symbol
 * registry rather than the class identity.
 */
const KAS_CLIENT_ERROR = Symbol.for('kubernetes-agent-workbench/KasClientError');

export class KasClientError extends Error {
  override name = 'KasClientError';
  readonly [KAS_CLIENT_ERROR] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[KAS_CLIENT_ERROR] === true;
  }

  constructor(
    readonly code: KasErrorCode,
    /** The HTTP status when there was one; for logs and decisions, never shown as text. */
    readonly status?: number,
  ) {
    super(`${code}: ${EXPLANATIONS[code]}`);
  }
}

export function explain(code: KasErrorCode): string {
  return EXPLANATIONS[code];
}

/**
 * An error whose message this extension wrote itself (bad input, a local process that failed),
 * so it may be shown as is. Upstream text never goes into one.
 */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
  constructor(
    readonly code: string,
    explanation: string,
  ) {
    super(`${code}: ${explanation}`);
  }
}

/** The text shown to users for any error; unknown errors never leak their message. */
export function userMessage(error: unknown): string {
  if (error instanceof KasClientError || error instanceof UserFacingError) return error.message;
  return 'INTERNAL_ERROR: something unexpected went wrong (see the output channel)';
}

/**
 * Whether kas itself (not the cluster behind it) refused the credentials: kas marks its own 401s
 * with `Gitlab-Unauthorized: true` (as the reference does); earlier versions used
 * `X-Kas-Auth-Error: true`, still read. `header` looks a header up by its lower-case name.
 */
export function kasRefusedCredentials(header: (name: string) => unknown): boolean {
  return [KAS_UNAUTHORIZED_HEADER, LEGACY_KAS_AUTH_ERROR_HEADER].some((name) => {
    const value = header(name);
    return value === 'true' || (Array.isArray(value) && value.includes('true'));
  });
}

/**
 * Maps an HTTP status to a code. `kasAuthError` is true when kas itself (not the cluster behind
 * it) refused the credentials; kas marks those responses with a header.
 */
export function codeForStatus(status: number, kasAuthError: boolean): KasErrorCode {
  if (status >= 300 && status < 400) return 'REDIRECT_REFUSED';
  if (status === 401) return kasAuthError ? 'KAS_UNAUTHORIZED' : 'CLUSTER_UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 410) return 'GONE';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 502 || status === 503 || status === 504) return 'AGENT_NOT_CONNECTED';
  return 'SERVER_ERROR';
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Maps a socket-level failure (Node error code) to a code. */
export function codeForNetworkError(error: NodeJS.ErrnoException): KasErrorCode {
  const code = error.code ?? '';
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return 'TLS_ERROR';
  if (code === 'ETIMEDOUT') return 'TIMEOUT';
  if (code === 'ABORT_ERR') return 'CANCELLED';
  return 'UNREACHABLE';
}
