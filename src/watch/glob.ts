import picomatch from 'picomatch';

// `watch.ignore` globs, matched with picomatch (the matcher chokidar itself used before v4):
// braces (`*.{tmp,part}`), classes (`[._]*`), extglobs and `**` work as in a shell. A pattern
// without `/` matches the base name at any depth, as in .gitignore; one with `/` is anchored
// at the job directory. Dotfiles are matched like any other name (an ignore list should not
// miss `.x.tmp`).
const normalize = (glob: string) => glob.replace(/^\.\//, '');

/** A predicate over one `/`-separated relative path: true when a pattern matches it. */
export function globMatcher(patterns: readonly string[]): (relPath: string) => boolean {
  const norm = patterns.map(normalize);
  const byName = norm.filter((p) => !p.includes('/'));
  const byPath = norm.filter((p) => p.includes('/'));
  // picomatch's basename option applies to every pattern given with it, so the two kinds are compiled apart.
  const name = byName.length ? picomatch(byName, { dot: true, basename: true }) : () => false;
  const path = byPath.length ? picomatch(byPath, { dot: true }) : () => false;
  return (p) => name(p) || path(p);
}

/** A predicate over `/`-separated relative paths: true when any pattern matches the path or one of its parent folders. */
export function createIgnoreMatcher(patterns: readonly string[]): (relPath: string) => boolean {
  if (patterns.length === 0) return () => false;
  const isMatch = globMatcher(patterns);
  return (relPath) => {
    const parts = relPath.split('/');
    for (let n = 1; n <= parts.length; n++) {
      if (isMatch(parts.slice(0, n).join('/'))) return true;
    }
    return false;
  };
}
