/**
 * When a job counts as Drive-enabled, defined once for every query of every backend.
 * The seed declares drive_integration_enabled BOOLEAN; SQLite keeps whatever the batch system
 * wrote there (1, '1', 'true', …), Postgres has a real boolean.
 */
export const ENABLED_TEXT_VALUES = ['1', 'true', 'TRUE', 'True'] as const;

export type Dialect = 'sqlite' | 'postgres';

/** The condition on a batch_jobs row (optionally qualified, e.g. `j.`). */
export function enabledCondition(dialect: Dialect, qualifier = ''): string {
  const col = `${qualifier}drive_integration_enabled`;
  if (dialect === 'postgres') return `${col} IS TRUE`;
  return `${col} IN (1, ${ENABLED_TEXT_VALUES.map((v) => `'${v}'`).join(', ')})`;
}

/** The job ids of enabled jobs, as a sub-select for `batch_job_id IN (…)`. */
export function enabledJobIds(dialect: Dialect): string {
  return `SELECT job_id FROM batch_jobs WHERE ${enabledCondition(dialect)}`;
}
