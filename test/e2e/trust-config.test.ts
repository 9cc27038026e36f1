// Config values that would fail late (or leak) are refused up front: exit 78 naming the key.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { setupE2E } from '../helpers/e2e.js';

test('metrics.listen with a port outside 1-65535 or no port: run and check-config exit 78 naming metrics.listen', async (t) => {
  const e = await setupE2E(t);
  for (const listen of ['127.0.0.1:70000', '127.0.0.1:0', 'localhost']) {
    e.writeConfig({ extraYaml: `metrics: { listen: ${JSON.stringify(listen)} }` });
    for (const cmd of [['run'], ['check-config'], ['sync', '--once']]) {
      const r = await e.cli(cmd, { timeoutMs: 20_000 });
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
  writeFileSync(insecure, good.replace(/^  api_endpoint: .*$/m, '  api_endpoint: "http://192.0.2.1:8089"'));
  for (const cmd of [['run'], ['check-config'], ['sync', '--once']]) {
    const r = await e.cli(cmd, { config: insecure, timeoutMs: 20_000 });
    t.is(r.code, 78, `${cmd.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /config error: .*drive\.api_endpoint: plain http:\/\/ to 192\.0\.2\.1 would send tokens and credentials unencrypted/, r.stderr);
    t.regex(r.stderr, /drive\.allow_insecure_endpoint: true/);
  }
  // The operator's explicit opt-in: the config is accepted (check-config then fails on the network, not on the key).
  const optIn = join(e.dir, 'opt-in.yaml');
  writeFileSync(optIn, good.replace(/^  api_endpoint: .*$/m, '  api_endpoint: "http://192.0.2.1:8089"\n  allow_insecure_endpoint: true'));
  const r = await e.cli(['migrate', '--status'], { config: optIn, timeoutMs: 20_000 });
  t.is(r.code, 0, r.stderr);
  // Loopback stays allowed for the emulator: the default e2e config is http://127.0.0.1:<port>.
  const ok = await e.cli(['check-config'], { timeoutMs: 20_000 });
  t.is(ok.code, 0, ok.stderr);
});
