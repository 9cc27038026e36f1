/**
 * Folder patterns: `batch/{yyyy}-{mm}-{dd}/{job_id}`. Tokens: {job_id}, {date}, {yyyy}, {mm},
 * {dd}, {hh} (UTC, when the folder is made) and {job.<column>} (any batch_jobs column).
 * `/` separates nested folders; leading and trailing `/` are ignored.
 */
export type PatternPart = { kind: 'text'; text: string } | { kind: 'token'; name: string; column?: string };
export type ParsedPattern = readonly (readonly PatternPart[])[];

const TIME_TOKENS = new Set(['date', 'yyyy', 'mm', 'dd', 'hh']);
const TOKEN_RE = /\{([^{}]*)\}/g;

export class PatternError extends Error {
  override readonly name = 'PatternError';
}

/** Parses a pattern into folder levels; throws PatternError naming the unknown token. */
export function parseFolderPattern(pattern: string): ParsedPattern {
  const levels = pattern
    .split('/')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (levels.length === 0) throw new PatternError(`folder pattern "${pattern}" has no folder name in it`);
  return levels.map((level) => {
    const parts: PatternPart[] = [];
    let last = 0;
    for (const m of level.matchAll(TOKEN_RE)) {
      const idx = m.index ?? 0;
      if (idx > last) parts.push({ kind: 'text', text: level.slice(last, idx) });
      const name = (m[1] ?? '').trim();
      if (name === 'job_id' || TIME_TOKENS.has(name)) parts.push({ kind: 'token', name });
      else if (/^job\.[A-Za-z_][A-Za-z0-9_]*$/.test(name)) parts.push({ kind: 'token', name: 'job', column: name.slice(4) });
      else
        throw new PatternError(
          `unknown token {${name}} in folder pattern "${pattern}"; expected one of {job_id}, {date}, {yyyy}, {mm}, {dd}, {hh}, {job.<column>}`,
        );
      last = idx + m[0].length;
    }
    if (last < level.length) parts.push({ kind: 'text', text: level.slice(last) });
    if (parts.some((p) => p.kind === 'text' && /[{}]/.test(p.text))) throw new PatternError(`unbalanced brace in folder pattern "${pattern}"`);
    return parts;
  });
}

/** Columns of batch_jobs a parsed pattern reads ({job.<column>}). */
export function patternColumns(p: ParsedPattern): string[] {
  const cols = new Set<string>();
  for (const level of p) for (const part of level) if (part.kind === 'token' && part.column) cols.add(part.column);
  return [...cols];
}

/** Makes a value safe as one Drive folder name: no `/`, no control characters, not `.`/`..`, ≤ 200 chars. */
export function sanitizeFolderName(value: string): string {
  let s = value
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .replace(/[/\\]/g, '_')
    .trim();
  if (s === '' || s === '.' || s === '..') s = '_';
  return s.length > 200 ? s.slice(0, /[\uD800-\uDBFF]/.test(s.charAt(199)) ? 199 : 200) : s; // never split a surrogate pair
}

/** Renders folder names, one per level. `job` holds the batch_jobs row; `now` is when the folder is made. */
export function renderFolderPattern(p: ParsedPattern, jobId: string, job: Record<string, unknown>, now: Date): string[] {
  const pad = (n: number) => String(n).padStart(2, '0');
  const time: Record<string, string> = {
    yyyy: String(now.getUTCFullYear()),
    mm: pad(now.getUTCMonth() + 1),
    dd: pad(now.getUTCDate()),
    hh: pad(now.getUTCHours()),
  };
  time.date = `${time.yyyy}-${time.mm}-${time.dd}`;
  return p.map((level) =>
    sanitizeFolderName(
      level
        .map((part) => {
          if (part.kind === 'text') return part.text;
          if (part.name === 'job_id') return jobId;
          if (part.column !== undefined) {
            // Own properties only: `constructor`, `toString`, `__proto__`… are not columns.
            if (!Object.hasOwn(job, part.column))
              throw new PatternError(`folder pattern uses {job.${part.column}} but batch_jobs has no column "${part.column}"`);
            const v = job[part.column];
            return v === null || v === undefined ? '' : String(v);
          }
          return time[part.name] ?? '';
        })
        .join(''),
    ),
  );
}
