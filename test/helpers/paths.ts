// Where things are: tests run compiled from dist/test/ (npm test builds first), so a path next to
// a test file is under dist/; data files that tsc does not copy (Python scripts, the example
// config, systemd units) are named from the repository root instead.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (holds package.json, src/, test/ and dist/), found from this file under test/ or dist/test/. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'batch-drive-sync') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the batch-drive-sync package root');
}

// Found once per process: the CLI's path is asked for at every child process a test starts.
const ROOT = findRoot();

export const repoRoot = (): string => ROOT;

/** A file of the repository (not compiled), e.g. repoPath('test', 'emulator', 'conformance', 'x.py'). */
export const repoPath = (...parts: string[]): string => join(repoRoot(), ...parts);
