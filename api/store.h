/* api/store.h - haneuld's state in SQLite.
 *
 * One database file (DATA_DIR/state.db) in WAL mode with synchronous=FULL, so
 * a change is on disk when its COMMIT returns: haneuld answers a request only
 * after that, hence a kill -9 loses no acknowledged change.  One connection
 * shared by the HTTP worker threads, serialised by a mutex: every access runs
 * inside store_tx_begin()/store_tx_end(), one transaction per state change.
 *
 * The schema is versioned with PRAGMA user_version; store_open() applies the
 * missing migrations from the table in store.c, each in its own transaction.
 * A service that needs tables appends a migration there (never edits one). */
#ifndef API_STORE_H
#define API_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
};

/* 0 or -errno (-EIO for SQLite errors, logged). */
int store_open(struct store *st, const char *path);
void store_close(struct store *st);
/* Schema version after migrations. */
int store_schema_version(struct store *st);
/* The number of migrations this build knows. */
int store_latest_version(void);

/* Locks the store and opens a transaction (BEGIN IMMEDIATE when write).
 * 0 or -EIO (then the lock is not held). */
int store_tx_begin(struct store *st, bool write);
/* Commits when ok (rolls back otherwise) and unlocks.  0, or -EIO if the
 * commit failed (the change is then not acknowledged). */
int store_tx_end(struct store *st, bool ok);

/* Inside a transaction: meta key/value.  0, -ENOENT or -EIO. */
int store_meta_get(struct store *st, const char *key, char *buf, size_t n);
int store_meta_set(struct store *st, const char *key, const char *value);

/* Prepares sql (logged on failure); NULL on error. */
sqlite3_stmt *store_prepare(struct store *st, const char *sql);
/* Column i of the current row as text: "" for NULL (never NULL). */
const char *store_col(sqlite3_stmt *s, int i);
/* The same, copied (truncated) into dst[n]. */
void store_col_copy(char *dst, size_t n, sqlite3_stmt *s, int i);

/* Inside a transaction: runs one statement (INSERT/UPDATE/DELETE) with up to
 * three text binds ?1..?3; a NULL bind is left unbound, i.e. SQL NULL.  The
 * strings need only live for the call.  0 or -EIO. */
int store_exec(struct store *st, const char *sql, const char *a, const char *b);
int store_exec3(struct store *st, const char *sql, const char *a, const char *b, const char *c);
/* Inside a transaction: 1 when sql (text binds ?1 = a, ?2 = b unless NULL)
 * returns a row, 0 when it returns none, -EIO. */
int store_exists(struct store *st, const char *sql, const char *a, const char *b);

#endif
