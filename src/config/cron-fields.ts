// node-cron's own validate() accepts out-of-range steps and values (`*/61` in the minute field
// passes and then never fires as written), so each field is checked against its range here.
const FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

const NAMES: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};

/** Problems with a 5- or 6-field cron expression, one per bad field; empty when every field is in range. */
export function cronFieldProblems(expr: string): string[] {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return [`expected 5 fields (minute hour day month weekday) or 6 (with seconds first), got ${parts.length}`];
  const fields = parts.length === 6 ? FIELDS : FIELDS.slice(1);
  const problems: string[] = [];
  parts.forEach((part, i) => {
    const f = fields[i]!;
    const p = fieldProblem(part, f.min, f.max);
    if (p) problems.push(`${f.name} field "${part}": ${p} (allowed ${f.min}-${f.max})`);
  });
  return problems;
}

function fieldProblem(part: string, min: number, max: number): string | null {
  for (const item of part.split(',')) {
    const [range, step, extra] = item.split('/');
    if (extra !== undefined || range === undefined || range === '') return `"${item}" is not a value, range or step`;
    if (step !== undefined) {
      const s = Number(step);
      if (!/^\d+$/.test(step) || s < 1 || s > max - min + 1) return `step /${step} is outside 1-${max - min + 1}`;
    }
    if (range === '*') continue;
    for (const v of range.split('-')) {
      const n = /^\d+$/.test(v) ? Number(v) : NAMES[v.toLowerCase()];
      if (n === undefined) return `"${v}" is not a number`;
      if (n < min || n > max) return `${v} is out of range`;
    }
  }
  return null;
}
