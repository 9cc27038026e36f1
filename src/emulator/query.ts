import { invalidParam } from './errors.js';
import type { Item } from './store.js';

export type Predicate = (item: Item) => boolean;

type Tok = { k: 'str'; v: string } | { k: 'word'; v: string } | { k: 'op'; v: string };

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const bad = () => invalidParam('q');
  while (i < q.length) {
    const c = q[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= q.length) throw bad();
        const d = q[i] as string;
        if (d === '\\') {
          const e = q[i + 1];
          // Drive knows only two escapes in q strings: \' and \\.
          if (e !== "'" && e !== '\\') throw bad();
          s += e;
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ k: 'str', v: s });
    } else if (c === '!' && q[i + 1] === '=') {
      out.push({ k: 'op', v: '!=' });
      i += 2;
    } else if ('=(){}'.includes(c)) {
      out.push({ k: 'op', v: c });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(q.slice(i)) as RegExpExecArray;
      out.push({ k: 'word', v: m[0] });
      i += m[0].length;
    } else {
      throw bad();
    }
  }
  return out;
}

/** Alphanumeric runs, lower-cased: how Drive splits a name for `contains` (punctuation and spaces separate). */
function words(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * `name contains 'v'` as Drive documents it: a prefix match, not a substring match ("HelloWorld"
 * matches 'Hello', not 'World'), case-insensitive, on words: every word of the value must begin
 * some word of the name. A value without any word matches every name.
 */
export function nameContains(name: string, value: string): boolean {
  const have = words(name);
  return words(value).every((w) => have.some((h) => h.startsWith(w)));
}

/**
 * Compiles the subset of Drive's `q` language the project uses: `name = | != | contains '…'`,
 * `'<id>' in parents` (`'root'` = the My Drive root), `trashed = | != true|false`,
 * `mimeType = | != '…'`, `appProperties has { key='k' and value='v' }`, joined with and / or /
 * not and parentheses. Anything else answers 400 invalid "Invalid Value" (location q), like Drive.
 */
export function compileQuery(q: string, myDriveRootId: string): Predicate {
  const toks = tokenize(q);
  let p = 0;
  const bad = () => invalidParam('q');
  const peek = (): Tok | undefined => toks[p];
  const isWord = (t: Tok | undefined, w: string) => t?.k === 'word' && t.v.toLowerCase() === w;
  const isOp = (t: Tok | undefined, o: string) => t?.k === 'op' && t.v === o;
  const take = (): Tok => {
    const t = toks[p++];
    if (!t) throw bad();
    return t;
  };
  const str = (): string => {
    const t = take();
    if (t.k !== 'str') throw bad();
    return t.v;
  };
  const op = (...allowed: string[]): string => {
    const t = take();
    const v = t.k === 'word' ? t.v.toLowerCase() : t.v;
    if ((t.k !== 'op' && t.k !== 'word') || !allowed.includes(v)) throw bad();
    return v;
  };

  const term = (): Predicate => {
    const t = peek();
    if (isOp(t, '(')) {
      p++;
      const e = orExpr();
      if (!isOp(take(), ')')) throw bad();
      return e;
    }
    if (isWord(t, 'not')) {
      p++;
      const e = term();
      return (it) => !e(it);
    }
    if (t?.k === 'str') {
      p++;
      if (!isWord(take(), 'in')) throw bad();
      const field = take();
      if (field.k !== 'word' || field.v !== 'parents') throw bad();
      const parent = t.v === 'root' ? myDriveRootId : t.v;
      return (it) => it.parents.includes(parent);
    }
    if (t?.k !== 'word') throw bad();
    p++;
    switch (t.v) {
      case 'name': {
        const o = op('=', '!=', 'contains');
        const v = str();
        if (o === 'contains') return (it) => nameContains(it.name, v);
        return o === '=' ? (it) => it.name === v : (it) => it.name !== v;
      }
      case 'mimeType': {
        const o = op('=', '!=');
        const v = str();
        return o === '=' ? (it) => it.mimeType === v : (it) => it.mimeType !== v;
      }
      case 'trashed': {
        const o = op('=', '!=');
        const w = take();
        if (w.k !== 'word' || (w.v !== 'true' && w.v !== 'false')) throw bad();
        const want = (w.v === 'true') === (o === '=');
        return (it) => it.trashed === want;
      }
      case 'appProperties': {
        if (!isWord(take(), 'has') || !isOp(take(), '{')) throw bad();
        if (!isWord(take(), 'key') || !isOp(take(), '=')) throw bad();
        const key = str();
        if (!isWord(take(), 'and')) throw bad();
        if (!isWord(take(), 'value') || !isOp(take(), '=')) throw bad();
        const value = str();
        if (!isOp(take(), '}')) throw bad();
        return (it) => it.appProperties[key] === value;
      }
      default:
        throw bad();
    }
  };
  const andExpr = (): Predicate => {
    let left = term();
    while (isWord(peek(), 'and')) {
      p++;
      const l = left;
      const r = term();
      left = (it) => l(it) && r(it);
    }
    return left;
  };
  function orExpr(): Predicate {
    let left = andExpr();
    while (isWord(peek(), 'or')) {
      p++;
      const l = left;
      const r = andExpr();
      left = (it) => l(it) || r(it);
    }
    return left;
  }

  if (toks.length === 0) return () => true;
  const e = orExpr();
  if (p !== toks.length) throw bad();
  return e;
}

/** Parsed `fields` selector: field -> sub-selection (`true` = whole value). */
export type FieldTree = Map<string, FieldTree | true>;

/** Parses `nextPageToken, files(id, name)`, `files/id`, `id,name`, `*`. Throws invalid(fields) when unbalanced. */
export function parseFields(fields: string): FieldTree {
  const tree: FieldTree = new Map();
  let i = 0;
  const bad = () => invalidParam('fields', `Invalid field selection ${fields}`);
  const parseList = (into: FieldTree, closing: boolean): void => {
    for (;;) {
      while (i < fields.length && /[\s,]/.test(fields[i] as string)) i++;
      if (i >= fields.length) {
        if (closing) throw bad();
        return;
      }
      if (fields[i] === ')') {
        if (!closing) throw bad();
        i++;
        return;
      }
      const m = /^[A-Za-z0-9_*/]+/.exec(fields.slice(i));
      if (!m) throw bad();
      i += m[0].length;
      const path = m[0].split('/').filter((s) => s !== '');
      if (path.length === 0) throw bad();
      let node = into;
      for (const [k, seg] of path.entries()) {
        const last = k === path.length - 1;
        if (last) {
          while (i < fields.length && fields[i] === ' ') i++;
          if (fields[i] === '(') {
            i++;
            const prev = node.get(seg);
            const sub: FieldTree = prev instanceof Map ? prev : new Map();
            if (prev !== true) node.set(seg, sub);
            parseList(sub, true);
          } else {
            node.set(seg, true);
          }
        } else {
          const prev = node.get(seg);
          if (prev === true) break;
          const sub: FieldTree = prev ?? new Map();
          node.set(seg, sub);
          node = sub;
        }
      }
    }
  };
  parseList(tree, false);
  return tree;
}

/** Keeps only the selected fields of a JSON value (arrays are projected element-wise). */
export function project(value: unknown, tree: FieldTree | true): unknown {
  if (tree === true || tree.has('*')) return value;
  if (Array.isArray(value)) return value.map((v) => project(v, tree));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const obj = value as Record<string, unknown>;
  for (const [k, sub] of tree) {
    if (k in obj && obj[k] !== undefined) out[k] = project(obj[k], sub);
  }
  return out;
}
