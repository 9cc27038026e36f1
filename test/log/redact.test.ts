// Secrets never reach a log line, in either format, wherever in the logged value they sit.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import test from 'ava';
import { OAuth2Client } from 'google-auth-library';
import { createLogger, redact, redactText } from '../../src/log/index.js';

const SECRETS = {
  clientSecret: 'GOCSPX-AbCdEf_123-xyzXYZ987654',
  refreshToken: '1//0gLmNoPqRsTuVwXyZ-aBcDeFgHiJkLmNoPqRsTuV',
  accessToken: 'ya29.a0AfB_byC-dEfGhIjKlMnOpQrStUvWxYz0123456789',
  bearer: 'opaque-bearer-value-0123456789',
  basic: 'dXNlcjpzdXBlci1zZWNyZXQtcGFzc3dvcmQ=',
};
const ALL = Object.values(SECRETS);

function capture(format: 'text' | 'json', secrets: readonly string[] = []) {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format, stream, secrets });
  return { log, text: () => out };
}

/** A gaxios-shaped error as a failed token refresh leaves it: config with headers and form body, response echoing it. */
function gaxiosLikeError(): Error {
  const e = new Error(`request to /token failed: invalid_client (client_secret=${SECRETS.clientSecret})`);
  return Object.assign(e, {
    config: {
      url: `https://oauth2.googleapis.com/token?access_token=${SECRETS.accessToken}`,
      headers: { Authorization: `Bearer ${SECRETS.accessToken}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      data: `grant_type=refresh_token&refresh_token=${SECRETS.refreshToken}&client_secret=${SECRETS.clientSecret}`,
    },
    response: { status: 401, data: { error: 'invalid_client', error_description: `The client ${SECRETS.clientSecret} is unknown` } },
  });
}

const cases: [string, () => Record<string, unknown>][] = [
  ['strings under innocent keys', () => ({ note: `got ${SECRETS.accessToken} and ${SECRETS.refreshToken}`, other: `secret ${SECRETS.clientSecret}` })],
  [
    'auth headers in text',
    () => ({ request: `GET /x HTTP/1.1\r\nAuthorization: Bearer ${SECRETS.bearer}\r\nProxy-Authorization: Basic ${SECRETS.basic}\r\n` }),
  ],
  ['auth headers as fields', () => ({ headers: { authorization: `Bearer ${SECRETS.bearer}`, 'x-other': `Basic ${SECRETS.basic}` } })],
  [
    'JSON text',
    () => ({ body: JSON.stringify({ access_token: SECRETS.accessToken, refresh_token: SECRETS.refreshToken, client_secret: SECRETS.clientSecret }) }),
  ],
  [
    'ten levels deep, in arrays',
    () => {
      let v: unknown = { leaf: [`deep ${SECRETS.accessToken}`, { again: SECRETS.clientSecret }] };
      for (let i = 0; i < 10; i++) v = { level: i, inner: [v] };
      return { deep: v };
    },
  ],
  [
    'an Error with a cause chain',
    () => {
      const root = new Error(`socket said ${SECRETS.refreshToken}`);
      const mid = new Error('token refresh failed', { cause: { detail: `client ${SECRETS.clientSecret}`, token: 'x' } });
      const top = new Error(`upload failed with ${SECRETS.accessToken}`, { cause: new Error('mid', { cause: [mid, root] }) });
      return { error: top };
    },
  ],
  [
    'an AggregateError',
    () => ({ error: new AggregateError([new Error(`a ${SECRETS.accessToken}`), new Error(`b Bearer ${SECRETS.bearer}`)], `Bearer ${SECRETS.bearer}`) }),
  ],
  ['a gaxios-shaped error and its config', () => ({ error: gaxiosLikeError(), config: (gaxiosLikeError() as unknown as { config: unknown }).config })],
  [
    'Map, Headers, URL',
    () => ({
      m: new Map([
        ['refresh_token', SECRETS.refreshToken],
        ['x', SECRETS.accessToken],
      ]),
      h: new Headers({ authorization: `Bearer ${SECRETS.bearer}` }),
      u: new URL(`https://x.example/cb?access_token=${SECRETS.accessToken}`),
    }),
  ],
];

for (const format of ['text', 'json'] as const) {
  test(`${format}: no secret reaches a log line, at any depth`, (t) => {
    for (const [name, make] of cases) {
      const c = capture(format);
      c.log.error(`while handling ${SECRETS.accessToken}: context-${name}`, make());
      const out = c.text();
      t.true(out.includes(`context-${name}`), `${name}: the line is there: ${out}`);
      for (const s of ALL) t.false(out.includes(s), `${name}: ${s.slice(0, 12)}… leaked: ${out}`);
      t.true(out.includes('[redacted]'), `${name}: says something was removed`);
    }
    // A child logger's bound metadata goes through the same scrub.
    const c = capture(format);
    c.log.child({ session: `https://x.example/?refresh_token=${SECRETS.refreshToken}` }).info('child line');
    t.true(c.text().includes('child line'));
    t.false(c.text().includes(SECRETS.refreshToken), c.text());
  });
}

test('a secret known literally (the configured client secret) is removed wherever it appears, whatever it looks like', (t) => {
  const plain = 'my-plain-client-secret-42';
  for (const format of ['text', 'json'] as const) {
    const c = capture(format, [plain]);
    c.log.warning(`the endpoint said: client ${plain} rejected`, { nested: [{ why: `bad ${plain}` }], err: new Error('x', { cause: plain }) });
    t.true(c.text().includes('the endpoint said'));
    t.false(c.text().includes(plain), c.text());
  }
  t.is(redactText(`a ${plain} b`, [plain]), 'a [redacted] b');
});

test('redact keeps what is not secret and cuts cycles', (t) => {
  const o: Record<string, unknown> = { job: 'job-7', bytes: 12, when: new Date(0), buf: Buffer.from('binary') };
  o.self = o;
  const r = redact(o) as Record<string, unknown>;
  t.like(r, { job: 'job-7', bytes: 12, self: '[circular]', buf: '[6 bytes]' });
  t.deepEqual(r.when, new Date(0));
  t.is(redactText('Drive 404 notFound: File not found: 1AbC.'), 'Drive 404 notFound: File not found: 1AbC.');
  t.is(redactText('path /srv/out/job-1//x and http://host/a'), 'path /srv/out/job-1//x and http://host/a');
});

test('a real google-auth-library failure against a token endpoint that echoes the request: logged, nothing leaks', async (t) => {
  // The endpoint answers 400 with everything it was sent, as some proxies and misconfigured servers do.
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += String(c)));
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_client', error_description: `bad request: ${body} auth=${req.headers.authorization ?? ''}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const client = new OAuth2Client({
    clientId: 'c.apps.googleusercontent.com',
    clientSecret: SECRETS.clientSecret,
    endpoints: { oauth2TokenUrl: `http://127.0.0.1:${port}/token` },
  });
  client.setCredentials({ refresh_token: SECRETS.refreshToken });
  const err = await t.throwsAsync(() => client.getAccessToken());
  t.truthy(err);
  for (const format of ['text', 'json'] as const) {
    const c = capture(format);
    c.log.error('token refresh failed', {
      error: err,
      config: (err as unknown as { config?: unknown }).config,
      response: (err as unknown as { response?: unknown }).response,
    });
    const out = c.text();
    t.true(out.includes('token refresh failed'));
    t.false(out.includes(SECRETS.clientSecret), out);
    t.false(out.includes(SECRETS.refreshToken), out);
  }
});
