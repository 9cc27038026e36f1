import crypto from 'node:crypto';
import type { Identity } from './store.js';

const TOKEN_LIFETIME_S = 3599;

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface AuthService {
  /** Handles the form body of `POST /token` (jwt-bearer and refresh_token grants). */
  token(form: URLSearchParams): TokenAnswer;
  /** Identity behind an `Authorization` header, or null (-> 401). */
  verify(header: string | undefined): Identity | null;
  expireAll(): void;
  revoke(refreshToken: string): void;
  issued(): number;
}

function decodeJwtPart(part: string | undefined): Record<string, unknown> | null {
  if (!part) return null;
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const oauthError = (status: number, error: string, description: string): TokenAnswer => ({
  status,
  body: { error, error_description: description },
});

/**
 * Access tokens live in memory only: a restarted emulator answers 401 to old tokens and the client
 * refreshes, as it would against Google after a token expiry. Signatures are not checked.
 */
export function createAuthService(clock: () => number): AuthService {
  const tokens = new Map<string, { identity: Identity; expiresAt: number }>();
  const revoked = new Set<string>();
  let count = 0;
  // Self-signed JWTs cannot be revoked one by one: after expireAll, those issued before are refused.
  let selfSignedNotBefore = 0;

  const issue = (identity: Identity): TokenAnswer => {
    const token = `ya29.emu-${crypto.randomBytes(36).toString('base64url')}`;
    tokens.set(token, { identity, expiresAt: clock() + TOKEN_LIFETIME_S * 1000 });
    count++;
    return { status: 200, body: { access_token: token, expires_in: TOKEN_LIFETIME_S, token_type: 'Bearer' } };
  };

  return {
    token: (form) => {
      const grant = form.get('grant_type') ?? '';
      if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        const parts = (form.get('assertion') ?? '').split('.');
        const payload = parts.length === 3 ? decodeJwtPart(parts[1]) : null;
        if (!payload || typeof payload.iss !== 'string' || payload.iss === '') {
          return oauthError(400, 'invalid_grant', 'Invalid JWT: the assertion is not a JWT with an iss claim.');
        }
        if (typeof payload.exp === 'number' && payload.exp * 1000 < clock()) {
          return oauthError(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
        }
        const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
        return issue(sub ? { kind: 'service_account', email: sub, hasQuota: true } : { kind: 'service_account', email: payload.iss, hasQuota: false });
      }
      if (grant === 'refresh_token') {
        const rt = form.get('refresh_token') ?? '';
        if (!form.get('client_id')) return oauthError(400, 'invalid_request', 'Could not determine client ID from request.');
        if (rt === '') return oauthError(400, 'invalid_request', 'Missing required parameter: refresh_token');
        if (revoked.has(rt)) return oauthError(400, 'invalid_grant', 'Token has been expired or revoked.');
        const tag = crypto.createHash('sha256').update(rt).digest('hex').slice(0, 10);
        return issue({ kind: 'user', email: `user-${tag}@emulator.local`, hasQuota: true });
      }
      return oauthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grant}`);
    },
    verify: (header) => {
      const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
      if (!m) return null;
      const token = m[1] as string;
      const t = tokens.get(token);
      if (t) {
        if (t.expiresAt <= clock()) {
          tokens.delete(token);
          return null;
        }
        return t.identity;
      }
      // Self-signed service-account JWTs (google-auth-library sends these when no scopes are set).
      const parts = token.split('.');
      const payload = parts.length === 3 ? decodeJwtPart(parts[1]) : null;
      if (payload && typeof payload.iss === 'string' && typeof payload.exp === 'number' && typeof payload.iat === 'number') {
        if (payload.exp * 1000 > clock() && payload.iat * 1000 >= selfSignedNotBefore) {
          return { kind: 'service_account', email: payload.iss, hasQuota: false };
        }
      }
      return null;
    },
    expireAll: () => {
      tokens.clear();
      selfSignedNotBefore = Math.floor(clock() / 1000) * 1000;
    },
    revoke: (rt) => {
      revoked.add(rt);
    },
    issued: () => count,
  };
}
