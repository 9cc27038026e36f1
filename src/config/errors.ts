/** A problem with the configuration file or credentials: the CLI exits 78 (EX_CONFIG) on it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** One line per problem, each naming the key path and what was expected. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(problems.join('\n'), options);
    this.problems = problems;
  }
}
