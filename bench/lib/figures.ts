// One measured figure: its value, the goal it is held to and whether it met it. A figure without
// a goal (context, a peer's number) has pass = null. Nothing is dropped from the table.
export interface Figure {
  bench: string;
  name: string;
  value: number;
  unit: string;
  /** Human form of the goal, e.g. "≥ 0.90"; null for context figures. */
  goal: string | null;
  pass: boolean | null;
  note?: string;
}

export interface BenchContext {
  quick: boolean;
  log: (msg: string) => void;
}

export interface Benchmark {
  name: string;
  describe: string;
  /** Runs only when named (`npm run bench -- soak`): too long for the default run. */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<Figure[]>;
}

type Cmp = '<=' | '<' | '>=' | '==';

/** A figure held to `cmp target`. */
export function goal(bench: string, name: string, value: number, unit: string, cmp: Cmp, target: number, note?: string): Figure {
  const pass = cmp === '<=' ? value <= target : cmp === '<' ? value < target : cmp === '>=' ? value >= target : value === target;
  const sym = cmp === '<=' ? '≤' : cmp === '>=' ? '≥' : cmp === '<' ? '<' : '=';
  return {
    bench,
    name,
    value,
    unit,
    goal: `${sym} ${target}${unit && unit !== 'ratio' ? ' ' + unit : ''}`,
    pass: Number.isFinite(value) && pass,
    ...(note ? { note } : {}),
  };
}

/** A figure reported for context, held to nothing. */
export function info(bench: string, name: string, value: number, unit: string, note?: string): Figure {
  return { bench, name, value, unit, goal: null, pass: null, ...(note ? { note } : {}) };
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.01 ? v.toFixed(3) : v.toPrecision(2);
}
