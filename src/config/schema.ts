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

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port such as 127.0.0.1:9464');

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

export const configSchema = z
  .object({
    database: z
      .object({
        path: z.string().min(1),
        busy_timeout_ms: nonNegInt.default(5000),
        final_job_statuses: z.array(z.string().min(1)).default(['completed', 'failed']),
      })
      .strict(),
    watch: z
      .object({
        output_dir: z.string().min(1),
        enabled: z.boolean().default(true),
        stability_ms: nonNegInt.default(2000),
        ignore: z.array(z.string().min(1)).default(['**/*.tmp', '**/*.part', '**/.*']),
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
      })
      .strict()
      .default({ scan_cron: '*/1 * * * *' }),
    drive: z
      .object({
        api_endpoint: z.string().url().default('https://www.googleapis.com'),
        root_folder_id: z.string().min(1),
        shared_drive_id: z.string().min(1).nullable().default(null),
        folder_pattern: folderPattern.default('batch/{yyyy}-{mm}-{dd}/{job_id}'),
      })
      .strict(),
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
