// Builds the google-auth-library client for the configured credentials and points every
// request it carries (token requests included) at the configured endpoint.
import { readFile } from 'node:fs/promises';
import { JWT, OAuth2Client } from 'google-auth-library';
import type { AuthConfig } from '../config/index.js';
import { ConfigError } from '../config/index.js';
import type { DriveAgents } from './agent.js';
import { classifyDriveError, DriveAuthError } from './errors.js';

export const GOOGLE_ENDPOINT = 'https://www.googleapis.com';

export interface DriveAuth {
  readonly client: OAuth2Client;
  /** client_email of a service account; null for OAuth. */
  readonly accountEmail: string | null;
  /** Gets a token now (a no-op while the cached one is valid). Throws DriveAuthError. */
  ensureToken(): Promise<void>;
  /** Drops the cached token and fetches a new one; concurrent callers share one refresh. */
  forceRefresh(): Promise<void>;
  /** Bumped on every forced refresh: lets a caller tell whether its 401 predates a refresh. */
  generation(): number;
}

export function isGoogleHost(host: string): boolean {
  return host === 'googleapis.com' || host.endsWith('.googleapis.com') || host === 'accounts.google.com';
}

/**
 * Returns a function that moves Google API URLs onto `endpoint`, keeping their paths
 * (/token, /drive/v3/..., /upload/drive/v3/...). With Google's own endpoint it is the identity.
 */
export function endpointRewriter(endpoint: string): (url: string | URL) => URL {
  const base = new URL(endpoint);
  const basePath = base.pathname.replace(/\/+$/, '');
  const passThrough = isGoogleHost(base.hostname);
  return (input) => {
    const url = new URL(String(input), base);
    if (passThrough || !isGoogleHost(url.hostname)) return url;
    // oauth2.googleapis.com/token and www.googleapis.com/oauth2/v4/token both mean "the token endpoint".
    const path = url.pathname === '/oauth2/v4/token' ? '/token' : url.pathname;
    const out = new URL(base.origin);
    out.pathname = basePath + path;
    out.search = url.search;
    return out;
  };
}

async function readCredentialFile(key: string, path: string, expected: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'read error';
    // The fs error names the path only; no contents can leak through it.
    throw new ConfigError([`${key} ${path}: cannot read (${code}); expected ${expected}`]);
  }
}

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
}

function parseKey(path: string, text: string): ServiceAccountKey {
  const bad = new ConfigError([`auth.key_file ${path}: not valid JSON with client_email and private_key (expected a service-account key file)`]);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // Deliberately drop the SyntaxError: V8 quotes the offending text, which is the key.
    throw bad;
  }
  if (v === null || typeof v !== 'object') throw bad;
  const r = v as Record<string, unknown>;
  if (typeof r.client_email !== 'string' || typeof r.private_key !== 'string' || !r.private_key.includes('PRIVATE KEY')) {
    throw bad;
  }
  const key: ServiceAccountKey = { client_email: r.client_email, private_key: r.private_key };
  if (typeof r.private_key_id === 'string') key.private_key_id = r.private_key_id;
  return key;
}

/** Reads the credentials and builds the auth client. Bad or unreadable files throw ConfigError naming the file. */
export async function createDriveAuth(auth: AuthConfig, endpoint: string, agents?: DriveAgents): Promise<DriveAuth> {
  const rewrite = endpointRewriter(endpoint);
  const tokenUrl = rewrite('https://oauth2.googleapis.com/token').href;
  let client: OAuth2Client;
  let accountEmail: string | null = null;
  if (auth.type === 'service_account') {
    const text = await readCredentialFile('auth.key_file', auth.key_file, 'a service-account JSON key');
    const key = parseKey(auth.key_file, text);
    accountEmail = key.client_email;
    const opts: ConstructorParameters<typeof JWT>[0] = {
      email: key.client_email,
      key: key.private_key,
      scopes: auth.scopes,
      endpoints: { oauth2TokenUrl: tokenUrl },
    };
    if (key.private_key_id !== undefined) opts.keyId = key.private_key_id;
    if (auth.subject) opts.subject = auth.subject;
    client = new JWT(opts);
  } else {
    const text = await readCredentialFile('auth.refresh_token_file', auth.refresh_token_file, 'a file holding the refresh token');
    const refreshToken = text.trim();
    if (!refreshToken || /\s/.test(refreshToken)) {
      throw new ConfigError([`auth.refresh_token_file ${auth.refresh_token_file}: expected exactly one refresh token (one line, no spaces)`]);
    }
    client = new OAuth2Client({
      clientId: auth.client_id,
      clientSecret: auth.client_secret,
      endpoints: { oauth2TokenUrl: tokenUrl },
    });
    client.setCredentials({ refresh_token: refreshToken });
  }
  // The one place every request passes through, token requests (gtoken uses this transporter)
  // and upload URLs the generated client builds from its fixed mediaUrl included.
  client.transporter.interceptors.request.add({
    resolved: async (o) => {
      if (o.url !== undefined) o.url = rewrite(o.url);
      // Our keep-alive, TCP_NODELAY sockets, unless gaxios chose a proxy (HTTPS_PROXY) or mTLS agent.
      if (agents && o.agent === undefined && o.url !== undefined) o.agent = agents.for(o.url);
      return o;
    },
  });

  let gen = 0;
  let refreshing: Promise<void> | null = null;

  async function ensureToken(): Promise<void> {
    try {
      const t = await client.getAccessToken();
      if (!t.token) throw new DriveAuthError('auth: token endpoint returned no access token');
    } catch (e) {
      const c = classifyDriveError(e);
      throw new DriveAuthError(`auth: cannot get a token: ${c.message}`, {
        ...(c.status !== undefined ? { status: c.status } : {}),
        ...(c.reason !== undefined ? { reason: c.reason } : {}),
        cause: c,
      });
    }
  }

  return {
    client,
    accountEmail,
    ensureToken,
    generation: () => gen,
    forceRefresh(): Promise<void> {
      refreshing ??= (async () => {
        try {
          // expiry_date 1 makes both JWT (gtoken forceRefresh) and OAuth2Client fetch a new token.
          client.credentials = { ...client.credentials, access_token: null, expiry_date: 1 };
          await ensureToken();
          gen++;
        } finally {
          refreshing = null;
        }
      })();
      return refreshing;
    },
  };
}
