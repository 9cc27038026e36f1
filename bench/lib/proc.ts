// /proc readings the benchmarks need beyond RSS and CPU ticks.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** inotify watches held by a process: the `inotify wd:` lines of its inotify descriptors. */
export function inotifyWatches(pid: number): number | null {
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== 'anon_inode:inotify') continue;
      n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    }
    return n;
  } catch {
    return null;
  }
}

/** Samples a process every `everyMs` until `until()` resolves: max and mean RSS (kB), and the samples. */
export function sampleRss(
  pid: number,
  read: (pid: number) => { rssKb: number } | null,
  everyMs = 500,
): { stop(): { maxKb: number; meanKb: number; samples: { at: number; kb: number }[] } } {
  const samples: { at: number; kb: number }[] = [];
  const tick = () => {
    const m = read(pid);
    if (m) samples.push({ at: Date.now(), kb: m.rssKb });
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      const kbs = samples.map((s) => s.kb);
      return { maxKb: Math.max(0, ...kbs), meanKb: kbs.reduce((a, b) => a + b, 0) / Math.max(1, kbs.length), samples };
    },
  };
}
