import test from 'ava';
import { jobDriveStatus, type JobDriveStatus, type RowCounts } from '../../src/db/index.js';

const c = (pending: number, uploading: number, uploaded: number, failed: number): RowCounts => ({ pending, uploading, uploaded, failed });

// [counts, job finished, expected] for an enabled job (README "Statuses").
const TABLE: [RowCounts, boolean, JobDriveStatus][] = [
  // no rows yet: a running job waits, a finished one whose walk found nothing is done
  [c(0, 0, 0, 0), false, 'pending'],
  [c(0, 0, 0, 0), true, 'completed'],
  // nothing uploaded yet
  [c(3, 0, 0, 0), false, 'pending'],
  [c(3, 0, 0, 0), true, 'pending'],
  [c(2, 0, 0, 1), true, 'pending'],
  // work under way
  [c(0, 1, 0, 0), false, 'in_progress'],
  [c(2, 1, 0, 0), true, 'in_progress'],
  [c(1, 0, 1, 0), true, 'in_progress'],
  [c(1, 0, 1, 1), false, 'in_progress'],
  [c(0, 1, 1, 1), true, 'in_progress'],
  // all uploaded: completed only once the job itself finished
  [c(0, 0, 5, 0), false, 'in_progress'],
  [c(0, 0, 5, 0), true, 'completed'],
  // nothing left to try and at least one failed
  [c(0, 0, 0, 1), false, 'failed'],
  [c(0, 0, 0, 1), true, 'failed'],
  [c(0, 0, 4, 1), false, 'failed'],
  [c(0, 0, 4, 1), true, 'failed'],
];

test('jobDriveStatus truth table (enabled job)', (t) => {
  for (const [counts, finished, expected] of TABLE) {
    t.is(jobDriveStatus(true, counts, finished), expected, `${JSON.stringify(counts)} finished=${finished}`);
  }
});

test('jobDriveStatus: a disabled job is not_requested whatever its rows', (t) => {
  for (const [counts, finished] of TABLE) t.is(jobDriveStatus(false, counts, finished), 'not_requested');
});
