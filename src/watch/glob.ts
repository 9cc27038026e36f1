/**
 * Minimal glob matching for `watch.ignore` (chokidar ≥ 4 dropped glob support):
 * `**` any number of path segments, `*` and `?` within one segment. A pattern without `/`
 * matches the base name at any depth (as in .gitignore).
 */
export function globToRegExp(glob: string): RegExp {
  const g = glob.includes('/') ? glob.replace(/^\.?\//, '') : `**/${glob}`;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i] as string;
    if (c === '*') {
      if (g[i + 1] === '*') {
        // "**/" matches zero or more whole segments; a trailing "**" matches everything below.
        if (g[i + 2] === '/') {
          re += '(?:[^/]*/)*';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A predicate over `/`-separated relative paths: true when any pattern matches the path or one of its parent folders. */
export function createIgnoreMatcher(patterns: readonly string[]): (relPath: string) => boolean {
  const res = patterns.map(globToRegExp);
  return (relPath) => {
    const parts = relPath.split('/');
    for (let n = 1; n <= parts.length; n++) {
      const p = parts.slice(0, n).join('/');
      if (res.some((r) => r.test(p))) return true;
    }
    return false;
  };
}
