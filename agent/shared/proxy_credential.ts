// The credentials a user or a CI job presents to kas's Kubernetes API proxy, in the reference's
// form: `Authorization: Bearer pat:<agent id>:<token>` or `Bearer ci:<agent id>:<token>`. kas,
// the local pair and the extension all build or read them here, so there is one format.

export type ProxyCredentialKind = 'pat' | 'ci';

export interface ProxyCredential {
  kind: ProxyCredentialKind;
  /** The agent id in canonical form (decimal, no sign, no leading zero): the key for every lookup. */
  agentId: string;
  token: string;
}

/** The largest agent id: ids are int64 in the reference. */
const MAX_AGENT_ID = 2n ** 63n - 1n;
const BEARER_PREFIX = 'Bearer ';
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/** The value of a bearer Authorization header: exactly `Bearer <token>`, one space, printable ASCII. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || !authorization.startsWith(BEARER_PREFIX)) return undefined;
  const token = authorization.slice(BEARER_PREFIX.length);
  return TOKEN_PATTERN.test(token) ? token : undefined;
}

/** `<kind>:<agent id>:<token>`, the bearer token the proxy expects. */
export function formatProxyCredential(kind: ProxyCredentialKind, agentId: string | number, token: string): string {
  return `${kind}:${agentId}:${token}`;
}

/** The canonical agent id of a decimal string, or undefined when it is not one (`01`, `+1`, `0`, too large). */
export function canonicalAgentId(text: string): string | undefined {
  if (!/^[1-9]\d{0,18}$/.test(text) || BigInt(text) > MAX_AGENT_ID) return undefined;
  return text;
}

/**
 * Reads a proxy credential from an Authorization header as strictly as the reference: lower-case
 * kind, a canonical agent id and a token; anything else (other case, extra spaces, `01`) is not one.
 */
export function parseProxyCredential(authorization: string | undefined): ProxyCredential | undefined {
  const bearer = bearerToken(authorization);
  const match = bearer === undefined ? null : /^(pat|ci):([^:]+):(.+)$/.exec(bearer);
  if (!match) return undefined;
  const agentId = canonicalAgentId(match[2]!);
  if (agentId === undefined) return undefined;
  return { kind: match[1] as ProxyCredentialKind, agentId, token: match[3]! };
}
