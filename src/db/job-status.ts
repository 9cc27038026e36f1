import type { JobDriveStatus } from './types.js';

export interface RowCounts {
  pending: number;
  uploading: number;
  uploaded: number;
  failed: number;
}

/**
 * The aggregate status of a Drive-enabled job from its rows (README "Statuses"):
 * pending = nothing uploaded yet; in_progress = work left or job still running;
 * completed = every row uploaded and the job finished; failed = nothing left to try and ≥ 1 failed.
 */
export function jobDriveStatus(enabled: boolean, c: RowCounts, jobFinished: boolean): JobDriveStatus {
  if (!enabled) return 'not_requested';
  const open = c.pending + c.uploading;
  if (open > 0) return c.uploaded > 0 || c.uploading > 0 ? 'in_progress' : 'pending';
  if (c.failed > 0) return 'failed';
  // Zero rows: a finished job whose directory walk found nothing is complete; a running one waits.
  if (c.uploaded === 0) return jobFinished ? 'completed' : 'pending';
  return jobFinished ? 'completed' : 'in_progress';
}
