import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { ConfigError } from './errors.js';
import { closest } from './suggest.js';

export { DEFAULT_CONFIG_PATH } from './version.js';

/** Environment the loader reads (passed in so tests need not touch process.env). */
export interface ConfigEnv {
  CREDENTIALS_DIRECTORY?: string | undefined;
}

// zod's own wording ("Invalid discriminator value", "Invalid input: expected number, received
// string") is turned into plain words naming the key, what was expected and what was found.
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path.map(String).join('.');
  const where = path || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(issue.path.map(String));
    return issue.keys
      .map((k) => {
        const near = closest(k, known);
        return `${path ? path + '.' : ''}${k}: unknown key${near ? ` (did you mean ${path ? path + '.' : ''}${near}?)` : known.length ? `; expected one of ${known.join(', ')}` : ''}`;
      })
      .join('\n');
  }
  const got = valueAt(raw, issue.path);
  if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
    const options = issue.options.map(String);
    if (got === undefined) return `${where}: required key is missing; expected one of ${options.join(', ')}`;
    const near = typeof got === 'string' ? closest(got, options) : null;
    return `${where}: expected one of ${options.join(', ')}, got ${show(got)}${near ? ` (did you mean ${near}?)` : ''}`;
  }
  if (issue.code === 'invalid_value') {
    const options = issue.values.map(String);
    const near = typeof got === 'string' ? closest(got, options) : null;
    return `${where}: expected one of ${options.join(', ')}, got ${show(got)}${near ? ` (did you mean ${near}?)` : ''}`;
  }
  if (issue.code === 'invalid_type') {
    if (got === undefined) return `${where}: required key is missing (expected ${article(issue.expected)})`;
    return `${where}: expected ${article(issue.expected)}, got ${show(got)}`;
  }
  return `${where}: ${issue.message.replace('Invalid input: ', '')}`;
}

function article(t: string): string {
  const name = t === 'object' ? 'mapping (key: value lines)' : t === 'array' ? 'list' : t;
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const text = JSON.stringify(v) ?? String(v);
  return `${typeof v === 'string' ? 'the text' : `the ${typeof v}`} ${text.length > 60 ? text.slice(0, 57) + '...' : text}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** The keys the schema allows at a path (for "did you mean"). */
function keysAt(path: readonly string[]): string[] {
  let schemas: z.ZodType[] = [configSchema];
  for (const k of [...path, null]) {
    const next: z.ZodType[] = [];
    const keys = new Set<string>();
    for (const s of schemas.flatMap(objectsOf)) {
      const shape = (s as unknown as { shape: Record<string, z.ZodType> }).shape;
      for (const key of Object.keys(shape)) keys.add(key);
      if (k !== null && shape[k]) next.push(shape[k]);
    }
    if (k === null) return [...keys];
    schemas = next;
  }
  return [];
}

function objectsOf(s: z.ZodType): z.ZodType[] {
  const def = (s as unknown as { def: { type: string; innerType?: z.ZodType; options?: z.ZodType[] } }).def;
  if (def.type === 'object') return [s];
  if (def.innerType) return objectsOf(def.innerType);
  if (def.options) return def.options.flatMap(objectsOf);
  return [];
}

/** Validates an already-parsed object; paths are resolved against `baseDir`. */
export function parseConfig(raw: unknown, baseDir: string, env: ConfigEnv = {}): Readonly<Config> {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((i) => describeIssue(i, raw).split('\n')));
  }
  const cfg = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  if (cfg.database.path !== undefined) cfg.database.path = abs(cfg.database.path);
  if (cfg.database.password_file !== undefined) cfg.database.password_file = credentialPath(cfg.database.password_file, env, abs);
  cfg.watch.output_dir = abs(cfg.watch.output_dir);
  if (cfg.auth.type === 'service_account') {
    cfg.auth.key_file = credentialPath(cfg.auth.key_file, env, abs);
  } else {
    cfg.auth.refresh_token_file = abs(cfg.auth.refresh_token_file);
  }
  cfg.drive.api_endpoint = cfg.drive.api_endpoint.replace(/\/+$/, '');
  if (cfg.drive.ca_file !== null) cfg.drive.ca_file = abs(cfg.drive.ca_file);
  return deepFreeze(cfg);
}

/** Reads and validates the YAML config file. Throws ConfigError (exit 78) naming what is wrong. */
export function loadConfig(path: string, env: ConfigEnv = process.env): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([`config file ${path}: cannot read it (${code}); expected a readable YAML file`], { cause: e });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : String(e);
    throw new ConfigError([`config file ${path}: invalid YAML: ${msg}`], { cause: e });
  }
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError([`config file ${path}: expected a YAML mapping at the top level`]);
  }
  try {
    return parseConfig(raw, dirname(resolve(path)), env);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.problems.map((p) => `${path}: ${p}`));
    throw e;
  }
}

/** systemd LoadCredential=: a bare name is looked up in $CREDENTIALS_DIRECTORY, else next to the config. */
function credentialPath(p: string, env: ConfigEnv, abs: (p: string) => string): string {
  const credDir = env.CREDENTIALS_DIRECTORY;
  return credDir && !isAbsolute(p) && !p.includes('/') ? resolve(credDir, p) : abs(p);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
