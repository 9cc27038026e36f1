/** A database problem. `permanent` ones (wrong file, missing table, unmigrated) will not fix themselves by retrying. */
export class DbError extends Error {
  override readonly name: string = 'DbError';
  readonly permanent: boolean;
  constructor(message: string, opts: { permanent: boolean; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.permanent = opts.permanent;
  }
}

/** The database lacks migrations the daemon needs: run `batch-drive-sync migrate`. */
export class NotMigratedError extends DbError {
  override readonly name = 'NotMigratedError';
  constructor(message: string) {
    super(message, { permanent: true });
  }
}

/** The database cannot be reached right now (server restarting, network down): retry later. */
export class DbUnavailableError extends DbError {
  override readonly name = 'DbUnavailableError';
  constructor(message: string, cause?: unknown) {
    super(message, { permanent: false, cause });
  }
}
