import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { ConfigError } from './errors.js';

export const DEFAULT_CONFIG_PATH = '/etc/batch-drive-sync/config.yaml';

/** Environment the loader reads (passed in so tests need not touch process.env). */
export interface ConfigEnv {
  CREDENTIALS_DIRECTORY?: string | undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path ? path + '.' : ''}${k}: unknown key`).join('\n');
  }
  const where = path || '(top level)';
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return `${where}: required key is missing (${issue.message.replace('Invalid input: ', '')})`;
  }
  return `${where}: ${issue.message.replace('Invalid input: ', '')}`;
}

/** Validates an already-parsed object; paths are resolved against `baseDir`. */
export function parseConfig(raw: unknown, baseDir: string, env: ConfigEnv = {}): Readonly<Config> {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((i) => describeIssue(i).split('\n')));
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
