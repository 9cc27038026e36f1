// What `status`, `files` and the demo print. Every text that comes from the database or the
// file tree goes through escapeText: job ids, file names and errors are input, not ours.
import type { FileListing, JobProgress, ProgressReport } from '../db/index.js';
import { escapeText as esc, formatBytes, formatCount, formatDuration, formatRate, formatTime } from './text.js';

const pct = (done: number, total: number) => (total > 0 ? ` (${Math.floor((done / total) * 100)} %)` : '');

/** `status` as text: one block per listed job, then the finished jobs as one line. */
export function formatProgress(rep: ProgressReport, opts: { all?: boolean | undefined } = {}): string {
  const out: string[] = [];
  for (const j of rep.jobs) out.push(...jobBlock(j, rep.generatedAt));
  if (rep.finished && rep.finished.jobs > 0) {
    out.push(
      `${formatCount(rep.finished.jobs)} finished job${rep.finished.jobs === 1 ? '' : 's'}: ${formatCount(rep.finished.files)} files, ${formatBytes(rep.finished.bytes)} in Drive (status --all lists them)`,
    );
  }
  if (out.length === 0) return opts.all ? 'no Drive-enabled jobs\n' : 'no Drive-enabled jobs need attention\n';
  return out.join('\n') + '\n';
}

function jobBlock(j: JobProgress, now: number): string[] {
  const out: string[] = [];
  const state = [`drive=${esc(j.driveUploadStatus ?? '-')}`, `job=${esc(j.jobStatus ?? '-')}`];
  if (!j.enabled) state.push('(disabled)');
  out.push(`${esc(j.jobId)}  ${state.join('  ')}`);
  const c = j.counts;
  out.push(
    `  files  ${formatCount(j.files.done)}/${formatCount(j.files.total)}${pct(j.files.done, j.files.total)}` +
      `   pending ${c.pending}, uploading ${c.uploading}, failed ${c.failed}`,
  );
  const left = Math.max(0, j.bytes.total - j.bytes.done - j.bytes.failed);
  out.push(
    `  bytes  ${formatBytes(j.bytes.done)}/${formatBytes(j.bytes.total)}${pct(j.bytes.done, j.bytes.total)}` +
      `   rate ${formatRate(j.rateBytesPerSec)}   ETA ${left === 0 ? '-' : j.etaSeconds === null ? 'unknown (nothing moving)' : formatDuration(j.etaSeconds)}`,
  );
  if (j.firstStartedAt !== null || j.lastFinishedAt !== null) {
    out.push(`  first upload started ${formatTime(j.firstStartedAt)}, last finished ${formatTime(j.lastFinishedAt)}`);
  }
  if (j.folderUrl) out.push(`  folder ${esc(j.folderUrl)}`);
  if (j.jobError) out.push(`  job error: ${esc(j.jobError)}`);
  for (const f of j.inFlight) {
    const size = f.size ?? 0;
    const progress = f.offset !== null ? `${formatBytes(f.offset)}/${formatBytes(size)}${pct(f.offset, size)}` : `${formatBytes(size)}`;
    const dur = f.durationMs !== null ? formatDuration(f.durationMs / 1000) : formatDuration((now - (f.startedAt ?? now)) / 1000);
    out.push(`  uploading ${esc(f.file)}  ${progress}  for ${dur}  (attempt ${f.attempt})`);
  }
  for (const e of j.lastErrors) {
    out.push(`  ${esc(e.status)} ${esc(e.file)} (attempt ${e.attempts}): ${esc(e.error)}`);
  }
  return out;
}

/** `files` as text: one line per file, then its error and Drive links indented below it. */
export function formatFiles(files: FileListing[], now: number): string {
  if (files.length === 0) return 'no files\n';
  const w = Math.min(60, Math.max(4, ...files.map((f) => esc(f.path).length)));
  const out = [`${'PATH'.padEnd(w)}  ${'SIZE'.padStart(8)}  ${'STATUS'.padEnd(14)}  ATTEMPTS  NEXT ATTEMPT`];
  for (const f of files) {
    const next = f.nextAttemptAt === null ? '-' : f.nextAttemptAt <= now ? 'due now' : `in ${formatDuration((f.nextAttemptAt - now) / 1000)}`;
    const status = f.status === 'uploading' && f.offset !== null && f.size ? `${f.status} ${Math.floor((f.offset / f.size) * 100)} %` : f.status;
    out.push(`${esc(f.path).padEnd(w)}  ${formatBytes(f.size).padStart(8)}  ${status.padEnd(14)}  ${String(f.attempts).padStart(8)}  ${next}`);
    if (f.lastError) out.push(`  error: ${esc(f.lastError)}`);
    if (f.fileUrl) out.push(`  file: ${esc(f.fileUrl)}`);
    if (f.previewUrl) out.push(`  preview: ${esc(f.previewUrl)}`);
  }
  return out.join('\n') + '\n';
}
