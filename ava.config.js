// Tests run compiled: `npm test` builds (tsc writes dist/test/ beside dist/src/) and ava runs the
// JavaScript. Through a TypeScript loader each of the ~80 test processes spent about a second of
// CPU more starting up, a fifth of the suite's CPU on this 2-core machine.
// One test file or folder: `npm test -- dist/test/e2e/cli.test.js` (builds first, then runs it).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every .ts file under dir (relative paths). */
function sources(dir, out = []) {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) sources(p, out);
    else if (ent.name.endsWith('.ts') && !ent.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const compiled = (ts) => join('dist', ts.replace(/\.ts$/, '.js'));
const all = [...sources('src'), ...sources('test')];

// An old dist/ would test old code: refuse it, naming what changed. tsc leaves an unchanged
// output untouched, so a build record newer than the source also counts as fresh.
const info = join('dist', '.tsbuildinfo');
const builtAt = existsSync(info) ? statSync(info).mtimeMs : 0;
const stale = all.filter((ts) => {
  const js = compiled(ts);
  if (!existsSync(js)) return true;
  const at = statSync(ts).mtimeMs;
  return statSync(js).mtimeMs < at && builtAt < at;
});
if (stale.length) {
  throw new Error(
    `dist/ is older than the sources (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? `, and ${stale.length - 3} more` : ''}): ` +
      'run "npm test" (it builds first), or "npm run build" before "npx ava"',
  );
}

// The slowest files first (each timed alone on the project's 2-core machine): with two files at
// a time, a long file that starts last makes the whole run wait for it. The rest run after these,
// in name order.
const LONGEST = [
  'e2e/scale',
  'e2e/postgres',
  'chaos/chaos',
  'e2e/cli',
  'e2e/signals',
  'db/connect-postgres',
  'e2e/file-tree',
  'e2e/ops',
  'e2e/status',
  'drive/pacer',
  'db/store-postgres',
  'drive/upload',
  'e2e/trust-config',
];
const rank = (file) => {
  const i = LONGEST.findIndex((name) => file.endsWith(`/test/${name}.test.js`));
  return i === -1 ? LONGEST.length : i;
};

export default {
  sortTestFiles: (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0),
  // Only the tests that exist under test/: a deleted test's old output left in dist/ never runs.
  files: all.filter((p) => p.startsWith('test') && p.endsWith('.test.ts')).map(compiled),
  // Each test file in its own process: tests spawn daemons and send signals; a crash stays in its file.
  workerThreads: false,
  timeout: '120s',
  concurrency: 2,
};
