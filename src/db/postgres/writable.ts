import { DbError } from '../errors.js';
import type { PgConn } from './connect.js';
import { sql } from './sql.js';

/** Privilege and read-only answers: the role may not write here (a restart will not fix it). */
const UNWRITABLE = new Set(['42501' /* insufficient_privilege */, '25006' /* read_only_sql_transaction */]);

/**
 * Throws a permanent DbError unless this role can write every table the daemon writes. Each
 * statement matches no row and the transaction is rolled back: PostgreSQL checks privileges (and
 * a read-only server or transaction) before it looks for rows, so nothing is written to learn it.
 */
export async function pgAssertWritable(conn: PgConn): Promise<void> {
  try {
    await conn.tx(async (tx) => {
      await tx.count(sql`UPDATE batch_jobs SET drive_upload_status = drive_upload_status WHERE FALSE`);
      await tx.count(sql`UPDATE batch_file_drive_metadata SET upload_status = upload_status WHERE FALSE`);
      await tx.count(sql`INSERT INTO batch_file_drive_metadata (batch_job_id, original_filename) SELECT 'x', 'x' WHERE FALSE`);
      await tx.count(sql`INSERT INTO batch_drive_metadata (batch_job_id) SELECT 'x' WHERE FALSE`);
      await tx.count(sql`INSERT INTO batch_drive_folders (parent_id, name, drive_folder_id) SELECT 'x', 'x', 'x' WHERE FALSE`);
      throw new Rollback();
    });
  } catch (e) {
    // The rollback we asked for comes back wrapped by the transaction runner.
    if (e instanceof Rollback || (e as { cause?: unknown } | null)?.cause instanceof Rollback) return;
    const code = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
    if (typeof code === 'string' && UNWRITABLE.has(code)) {
      throw new DbError(
        `database.url ${conn.target}: this role cannot write the daemon's tables: ${(e as Error).message}; expected INSERT and UPDATE on batch_jobs, batch_file_drive_metadata, batch_drive_metadata and batch_drive_folders`,
        {
          permanent: true,
          cause: e,
        },
      );
    }
    throw e;
  }
}

class Rollback extends Error {}
