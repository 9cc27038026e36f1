/**
 * A tiny tagged template for node-postgres: values become $1, $2, … in order; nested fragments
 * and raw() text are spliced in. So a query reads like the SQLite one, without counting placeholders.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

/** SQL text spliced in as is: only for constants of this code, never for values. */
export class Raw {
  constructor(readonly text: string) {}
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

export const raw = (text: string): Raw => new Raw(text);
export const empty = raw('');

/** A comma-separated list of parameters (`IN (…)`). */
export function list(values: readonly unknown[]): Sql {
  return new Sql(['', ...values.slice(1).map(() => ', '), ''].slice(0, values.length + 1), values);
}

export function render(q: Sql): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  let text = '';
  const walk = (s: Sql) => {
    s.strings.forEach((part, i) => {
      text += part;
      if (i >= s.values.length) return;
      const v = s.values[i];
      if (v instanceof Sql) walk(v);
      else if (v instanceof Raw) text += v.text;
      else {
        values.push(v);
        text += `$${values.length}`;
      }
    });
  };
  walk(q);
  return { text, values };
}
