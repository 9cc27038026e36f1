import { isIP } from 'node:net';
import { z } from 'zod';
import { validate as validateCron } from 'node-cron';
import { cronFieldProblems } from './cron-fields.js';
import { parseFolderPattern, PatternError } from './folder-pattern.js';

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

const folderPattern = z.string().superRefine((p, ctx) => {
  try {
    parseFolderPattern(p);
  } catch (e) {
    if (e instanceof PatternError) ctx.addIssue({ code: 'custom', message: e.message });
    else throw e;
  }
});

// A port outside 1–65535 would pass a shape check and then fail at bind time (exit 1, and
// systemd restart-loops): the schema rejects it so the CLI exits 78 naming the key.
const hostPort = z.string().superRefine((v, ctx) => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):(\d{1,5})$/.exec(v);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected host:port such as 127.0.0.1:9464 or [::1]:9464, got ${JSON.stringify(v)}` });
    return;
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) ctx.addIssue({ code: 'custom', message: `port ${m[3]} is outside 1-65535 (in ${JSON.stringify(v)})` });
  if (m[1] !== undefined && isIP(m[1]) !== 6) ctx.addIssue({ code: 'custom', message: `[${m[1]}] is not an IPv6 address (in ${JSON.stringify(v)})` });
});

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(h);
  return false;
}

// Every request, the token request included, carries a credential: plain http only where it
// cannot be read on the way (loopback), or where the operator says so explicitly.
function checkEndpoint(d: { api_endpoint: string; allow_insecure_endpoint: boolean }, ctx: z.RefinementCtx): void {
  let u: URL;
  try {
    u = new URL(d.api_endpoint);
  } catch {
    return; // the url() check has said so already
  }
  const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['api_endpoint'], message });
  if (u.protocol !== 'https:' && u.protocol !== 'http:') issue(`expected an https:// URL, got ${u.protocol}`);
  if (u.username || u.password) issue('expected no user:password in the URL (credentials come from auth.*)');
  if (u.search || u.hash) issue('expected no ?query or #fragment in the URL');
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !d.allow_insecure_endpoint) {
    issue(
      `plain http:// to ${u.hostname} would send tokens and credentials unencrypted; expected https://, a loopback address (127.0.0.1, ::1, localhost), or drive.allow_insecure_endpoint: true`,
    );
  }
}

const serviceAccount = z
  .object({
    type: z.literal('service_account'),
    /** Path of the JSON key. Relative names are looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=). */
    key_file: z.string().min(1),
    /** Domain-wide delegation: the user to act as. */
    subject: z.string().min(1).nullable().default(null),
    scopes: z.array(z.string().url()).min(1).default(['https://www.googleapis.com/auth/drive']),
  })
  .strict();

const oauth = z
  .object({
    type: z.literal('oauth'),
    client_id: z.string().min(1),
    client_secret: z.string().min(1),
    /** File holding the refresh token (never put the token itself in this file). */
    refresh_token_file: z.string().min(1),
    scopes: z.array(z.string().url()).min(1).default(['https://www.googleapis.com/auth/drive']),
  })
  .strict();

function urlHasPassword(u: string): boolean {
  try {
    const url = new URL(u);
    return url.password !== '' || url.searchParams.has('password');
  } catch {
    return false;
  }
}

// The URL may carry a password: messages describe it, never repeat it.
const postgresUrl = z.string().superRefine((u, ctx) => {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a URL such as postgres://user@host:5432/dbname' });
    return;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    ctx.addIssue({ code: 'custom', message: `expected a postgres:// or postgresql:// URL, got scheme "${url.protocol.replace(/:$/, '')}"` });
  } else if (!url.hostname && !url.searchParams.get('host')) {
    ctx.addIssue({ code: 'custom', message: 'expected a host (postgres://user@host/dbname, or ?host=/socket/dir)' });
  }
});

export const configSchema = z
  .object({
    database: z
      .object({
        /** The batch system's SQLite file (the embedded default)… */
        path: z.string().min(1).optional(),
        /** …or its PostgreSQL database: a libpq-style URL. Exactly one of the two. */
        url: postgresUrl.optional(),
        /** Postgres password, when not in the URL nor in $PGPASSWORD. Relative names are looked up in $CREDENTIALS_DIRECTORY first. */
        password_file: z.string().min(1).optional(),
        /** Postgres connections per daemon. */
        pool_size: positiveInt.max(100).default(4),
        /** Postgres: give up connecting after this long (at start: then exit 78). */
        connect_timeout_ms: positiveInt.default(10000),
        busy_timeout_ms: nonNegInt.default(5000),
        final_job_statuses: z.array(z.string().min(1)).default(['completed', 'failed']),
      })
      .strict()
      .superRefine((d, ctx) => {
        if ((d.path === undefined) === (d.url === undefined)) {
          ctx.addIssue({ code: 'custom', message: 'expected exactly one of database.path (SQLite file) or database.url (postgres://…)' });
        }
        if (d.password_file !== undefined && d.url === undefined) {
          ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'only used with database.url (PostgreSQL)' });
        }
        if (d.password_file !== undefined && d.url !== undefined && urlHasPassword(d.url)) {
          ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'the URL already carries a password; keep one of the two' });
        }
      }),
    daemon: z
      .object({
        /** Recorded on the rows this daemon finds (several hosts on one database); default the host name. */
        node_name: z
          .string()
          .min(1)
          .max(255)
          // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
          .regex(/^[^\x00-\x1f\x7f]+$/, 'expected a name without control characters')
          .nullable()
          .default(null),
      })
      .strict()
      .default({ node_name: null }),
    watch: z
      .object({
        output_dir: z.string().min(1),
        enabled: z.boolean().default(true),
        stability_ms: nonNegInt.default(2000),
        ignore: z.array(z.string().min(1)).default(['**/*.tmp', '**/*.part', '**/.*']),
        /** true: every daemon sees the same output tree (one host, or NFS) and may upload any row; false: a daemon uploads only the rows it found. */
        shared_storage: z.boolean().default(true),
      })
      .strict(),
    schedule: z
      .object({
        scan_cron: z
          .string()
          .superRefine((c, ctx) => {
            const problems = cronFieldProblems(c);
            if (problems.length === 0 && validateCron(c)) return;
            const detail = problems.length ? `: ${problems.join('; ')}` : '';
            ctx.addIssue({ code: 'custom', message: `expected a cron expression such as "*/1 * * * *"${detail}` });
          })
          .default('*/1 * * * *'),
        /**
         * The safety net: a walk of every directory of every job that can still change, watched or
         * not (scan_cron walks only the jobs the watcher does not fully cover).
         */
        full_scan_cron: z
          .string()
          .refine((c) => validateCron(c), 'expected a node-cron expression such as "*/15 * * * *"')
          .default('*/15 * * * *'),
      })
      .strict()
      .default({ scan_cron: '*/1 * * * *', full_scan_cron: '*/15 * * * *' }),
    drive: z
      .object({
        api_endpoint: z.string().url().default('https://www.googleapis.com'),
        root_folder_id: z.string().min(1),
        shared_drive_id: z.string().min(1).nullable().default(null),
        folder_pattern: folderPattern.default('batch/{yyyy}-{mm}-{dd}/{job_id}'),
        /** PEM file of CA certificates trusted besides Node's bundled ones (a TLS-inspecting proxy, a private emulator). */
        ca_file: z.string().min(1).nullable().default(null),
        /** Allow a plain-http api_endpoint that is not loopback (a test network); tokens then travel unencrypted. */
        allow_insecure_endpoint: z.boolean().default(false),
      })
      .strict()
      .superRefine(checkEndpoint),
    auth: z.discriminatedUnion('type', [serviceAccount, oauth]),
    upload: z
      .object({
        concurrency: positiveInt.max(64).default(4),
        max_attempts: positiveInt.default(8),
        backoff_base_ms: positiveInt.default(1000),
        backoff_max_ms: positiveInt.default(300000),
        resumable_threshold_bytes: positiveInt.default(8 * 1024 * 1024),
        chunk_size_bytes: positiveInt
          .refine((n) => n % (256 * 1024) === 0, 'expected a multiple of 262144 (256 KiB), as Drive requires')
          .default(8 * 1024 * 1024),
        /** How long a claimed row stays ours without a sign of life (a crashed worker's rows return after it). */
        lease_ms: positiveInt.default(120000),
        /** On SIGTERM, uploads in flight get this long to finish before they are checkpointed and stopped. */
        drain_timeout_ms: nonNegInt.default(75000),
      })
      .strict()
      .default({
        concurrency: 4,
        max_attempts: 8,
        backoff_base_ms: 1000,
        backoff_max_ms: 300000,
        resumable_threshold_bytes: 8 * 1024 * 1024,
        chunk_size_bytes: 8 * 1024 * 1024,
        lease_ms: 120000,
        drain_timeout_ms: 75000,
      }),
    log: z
      .object({
        level: z.enum(['error', 'warning', 'notice', 'info', 'debug']).default('info'),
        format: z.enum(['text', 'json']).default('text'),
      })
      .strict()
      .default({ level: 'info', format: 'text' }),
    metrics: z
      .object({ listen: hostPort.nullable().default(null) })
      .strict()
      .default({ listen: null }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type AuthConfig = Config['auth'];

/** Secret values the config itself holds: output that might echo them (a token endpoint's error) is redacted of them. */
export function configSecrets(cfg: Readonly<Config>): string[] {
  return cfg.auth.type === 'oauth' ? [cfg.auth.client_secret] : [];
}
