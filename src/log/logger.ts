import type { Writable } from 'node:stream';
import winston from 'winston';
import { isSecretKey, redact, redactText } from './redact.js';

export type LogLevel = 'error' | 'warning' | 'notice' | 'info' | 'debug';
export type LogMeta = Record<string, unknown>;

/** The logging surface the rest of the code uses (syslog level names, as journald expects). */
export interface Logger {
  error(message: string, meta?: LogMeta): void;
  warning(message: string, meta?: LogMeta): void;
  notice(message: string, meta?: LogMeta): void;
  info(message: string, meta?: LogMeta): void;
  debug(message: string, meta?: LogMeta): void;
  child(meta: LogMeta): Logger;
  setLevel(level: LogLevel): void;
}

export interface LoggerOptions {
  level: LogLevel;
  format: 'text' | 'json';
  /** Prefix each line with `<N>` (syslog priority) so journald files it at the right level. */
  journald?: boolean;
  /** Where lines go; default stderr. */
  stream?: Writable;
  /** Secret values known literally (e.g. the configured client secret): never printed, wherever they appear. */
  secrets?: readonly string[];
}

const LEVELS = winston.config.syslog.levels;
const SCRUB = Symbol.for('batch-drive-sync.scrubbed');

// Drops secrets from message and metadata, at any depth, before any formatter sees them.
const scrub = winston.format((info, opts: unknown) => {
  const out = info as Record<string | symbol, unknown>;
  if (out[SCRUB]) return info;
  const known = (opts as { secrets?: readonly string[] } | undefined)?.secrets ?? [];
  for (const k of Object.keys(out)) {
    if (k === 'level') continue;
    if (k === 'message') out[k] = redactText(String(out[k]), known);
    else out[k] = isSecretKey(k) ? '[redacted]' : redact(out[k], known);
  }
  out[SCRUB] = true;
  return info;
});

// JSON lines begin with timestamp, level and message (log shippers and people reading raw
// lines find them first), then the line's own fields.
function jsonFormat() {
  return winston.format.printf((info) => {
    const { level, message, timestamp, ...meta } = info as Record<string, unknown>;
    return JSON.stringify({ timestamp, level, message, ...meta }, safeReplacer());
  });
}

// A log line must never throw: cycles become "[circular]", bigints strings.
function safeReplacer() {
  const seen = new WeakSet<object>();
  return (_key: string, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value !== null && typeof value === 'object') {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  };
}

function textFormat(journald: boolean) {
  return winston.format.printf((info) => {
    const { level, message, timestamp, stack, ...meta } = info as Record<string, unknown>;
    const pri = LEVELS[String(level)] ?? 6;
    const metaText = Object.keys(meta).length ? ' ' + JSON.stringify(meta) : '';
    const body = String(stack ?? message) + metaText;
    if (journald)
      return body
        .split('\n')
        .map((l) => `<${pri}>${l}`)
        .join('\n');
    return body
      .split('\n')
      .map((l) => `${String(timestamp)} ${String(level).padEnd(7)} ${l}`)
      .join('\n');
  });
}

/** Creates the process logger. Console/stream transport only: journald handles storage and rotation. */
export function createLogger(opts: LoggerOptions): Logger {
  const journald = opts.journald ?? false;
  const secrets = { secrets: opts.secrets ?? [] };
  const format =
    opts.format === 'json'
      ? winston.format.combine(scrub(secrets), winston.format.timestamp(), jsonFormat())
      : winston.format.combine(scrub(secrets), winston.format.timestamp(), textFormat(journald));
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console({ stderrLevels: Object.keys(LEVELS) });
  const root = winston.createLogger({ levels: LEVELS, level: opts.level, format, transports: [transport] });
  return wrap(root);
}

function wrap(w: winston.Logger): Logger {
  const log = (level: LogLevel) => (message: string, meta?: LogMeta) => {
    w.log(level, message, meta ?? {});
  };
  return {
    error: log('error'),
    warning: log('warning'),
    notice: log('notice'),
    info: log('info'),
    debug: log('debug'),
    child: (meta) => wrap(w.child(meta)),
    setLevel: (level) => {
      w.level = level;
    },
  };
}

/** A logger that drops everything (for library use and tests that do not read logs). */
export function createSilentLogger(): Logger {
  const noop = () => undefined;
  const l: Logger = { error: noop, warning: noop, notice: noop, info: noop, debug: noop, child: () => l, setLevel: noop };
  return l;
}
