// Short-lived tokens between kas replicas: a JSON claim set and its HMAC-SHA256 under the shared
// secret (private_api.authentication_secret_file), base64url, "<claims>.<signature>". A stolen
// token is good for a minute at most; the secret itself never leaves the replica.
import { createHmac, timingSafeEqual } from 'node:crypto';

const AUDIENCE = 'kas-private-api';
const LIFETIME_S = 60;
/** Clocks of replicas may differ a little. */
const CLOCK_SKEW_S = 30;

interface Claims {
  aud: string;
  iat: number;
  exp: number;
}

export class PrivateApiTokenError extends Error {
  override name = 'PrivateApiTokenError';
}

export function signPrivateApiToken(secret: Buffer, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const claims = Buffer.from(JSON.stringify({ aud: AUDIENCE, iat, exp: iat + LIFETIME_S } satisfies Claims)).toString('base64url');
  return `${claims}.${sign(secret, claims)}`;
}

/** Throws PrivateApiTokenError saying what is wrong (never echoing the token). */
export function verifyPrivateApiToken(secret: Buffer, token: string, nowMs = Date.now()): void {
  const [claimsText, signature, extra] = token.split('.');
  if (!claimsText || !signature || extra !== undefined) throw new PrivateApiTokenError('malformed token');
  const expected = Buffer.from(sign(secret, claimsText));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new PrivateApiTokenError('bad signature');
  let claims: Partial<Claims>;
  try {
    claims = JSON.parse(Buffer.from(claimsText, 'base64url').toString('utf8')) as Partial<Claims>;
  } catch {
    throw new PrivateApiTokenError('malformed claims');
  }
  const now = nowMs / 1000;
  if (claims.aud !== AUDIENCE) throw new PrivateApiTokenError('wrong audience');
  if (typeof claims.exp !== 'number' || claims.exp + CLOCK_SKEW_S < now) throw new PrivateApiTokenError('expired');
  if (typeof claims.iat !== 'number' || claims.iat - CLOCK_SKEW_S > now) throw new PrivateApiTokenError('issued in the future');
}

function sign(secret: Buffer, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}
