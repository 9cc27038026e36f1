// Config values that would fail late (or leak) are refused up front: exit 78 naming the key.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';

test('metrics.listen with a port outside 1-65535 or no port: run and check-config exit 78 naming metrics.listen', async (t) => {
  const e = await setupE2E(t);
  for (const listen of ['127.0.0.1:70000', '127.0.0.1:0', 'localhost']) {
    e.writeConfig({ extraYaml: `metrics: { listen: ${JSON.stringify(listen)} }` });
    for (const cmd of [['run'], ['check-config'], ['sync', '--once']]) {
      const r = await e.cli(cmd);
      t.is(r.code, 78, `${cmd.join(' ')} with ${listen}: ${r.stderr}`);
      t.regex(r.stderr, /config error: .*metrics\.listen: /, `${cmd.join(' ')}: ${r.stderr}`);
      t.notRegex(r.stderr + r.stdout, /daemon started/);
    }
  }
});

test('a plain-http api_endpoint off loopback is refused (exit 78) unless drive.allow_insecure_endpoint: true', async (t) => {
  const e = await setupE2E(t);
  const good = readFileSync(e.configPath, 'utf8');
  const insecure = join(e.dir, 'insecure.yaml');
  // 192.0.2.1 is TEST-NET-1: nothing answers there, and nothing may be sent there either.
  writeFileSync(insecure, good.replace(/^ {2}api_endpoint: .*$/m, '  api_endpoint: "http://192.0.2.1:8089"'));
  for (const cmd of [['run'], ['check-config'], ['sync', '--once']]) {
    const r = await e.cli(cmd, { config: insecure });
    t.is(r.code, 78, `${cmd.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /config error: .*drive\.api_endpoint: plain http:\/\/ to 192\.0\.2\.1 would send tokens and credentials unencrypted/, r.stderr);
    t.regex(r.stderr, /drive\.allow_insecure_endpoint: true/);
  }
  // The operator's explicit opt-in: the config is accepted (check-config then fails on the network, not on the key).
  const optIn = join(e.dir, 'opt-in.yaml');
  writeFileSync(optIn, good.replace(/^ {2}api_endpoint: .*$/m, '  api_endpoint: "http://192.0.2.1:8089"\n  allow_insecure_endpoint: true'));
  const r = await e.cli(['migrate', '--status'], { config: optIn });
  t.is(r.code, 0, r.stderr);
  // Loopback stays allowed for the emulator: the default e2e config is http://127.0.0.1:<port>.
  const ok = await e.cli(['check-config']);
  t.is(ok.code, 0, ok.stderr);
});

/** A token endpoint that answers 400 quoting back, in free text, the secret it was sent (as misconfigured proxies do). */
async function echoingTokenEndpoint(t: import('ava').ExecutionContext): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += String(c)));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: `client ${form.get('client_secret')} with ${form.get('refresh_token')} is not known here`,
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('check-config and the logs never print a client secret a token endpoint echoes (a plain one and a GOCSPX- one), text and json', async (t) => {
  const e = await setupE2E(t);
  const endpoint = await echoingTokenEndpoint(t);
  const gocspx = `GOCSPX-${'Zq3_kP9-'.repeat(3)}`;
  const base = readFileSync(e.configPath, 'utf8').replace(/^ {2}api_endpoint: .*$/m, `  api_endpoint: ${JSON.stringify(endpoint)}`);
  await e.addJob('echo');
  e.writeFile('echo', 'a.txt', 'a');
  for (const [name, secret] of [
    ['plain', e.secrets.clientSecret],
    ['gocspx', gocspx],
  ] as const) {
    for (const format of ['text', 'json']) {
      const cfg = join(e.dir, `echo-${name}-${format}.yaml`);
      writeFileSync(cfg, base.replace(/^ {2}client_secret: .*$/m, `  client_secret: ${JSON.stringify(secret)}`).replace(/format: json/, `format: ${format}`));
      const r = await e.cli(['check-config'], { config: cfg });
      t.is(r.code, 78, r.stderr);
      t.regex(r.stderr, /problem: auth: cannot get a token: .*invalid_client.*is not known here/, r.stderr);
      t.false((r.stdout + r.stderr).includes(secret), `check-config printed the ${name} secret: ${r.stderr}`);
      t.false((r.stdout + r.stderr).includes(e.secrets.refreshToken), r.stderr);
      // The same answer met while uploading: the log line and the row's upload_error carry no secret.
      const s = await e.cli(['sync', '--once', '--max-wait-ms', '0'], { config: cfg });
      const out = s.stdout + s.stderr;
      t.regex(out, /is not known here/, "the endpoint's answer was logged");
      t.false(out.includes(secret), `sync --once logged the ${name} secret (${format}): ${out}`);
      const rows = await e.rows('echo');
      t.true(rows.length > 0 && rows.every((x) => !(x.upload_error ?? '').includes(secret)), JSON.stringify(rows));
    }
  }
});
