#include <sqlite3.h>

/// `sqlite3_db_config` is variadic, which Swift cannot call: this sets SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, so
/// closing the connection never checkpoints the WAL into the database (the CLI's read-only connections).
static inline int orderd_sqlite3_no_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
