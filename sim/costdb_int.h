/* costdb_int.h — what costdb.c (names, schema, connections, the writer) and
 * costdb_read.c (the reader) share; not part of the library's interface.
 *
 * The helpers take and return SQLite result codes, except those that fill a
 * struct wlb_error, which return a wlb_err as everywhere else. */
#ifndef WLB_COSTDB_INT_H
#define WLB_COSTDB_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "costdb.h"
#include "err.h"

/* The wlb_err for a SQLite result code. */
int wlb_cdb_sqlite_code(int rc);
/* Sets err to "PATH: WHAT: SQLite's message" and returns its wlb_err. */
int wlb_cdb_error(struct wlb_error *err, sqlite3 *db, int rc, const char *path, const char *what);
/* Opens path with SQLite's open flags, with what every connection gets
 * (extended result codes, a busy timeout, foreign keys on).  Returns the
 * SQLite code; *out is NULL on failure. */
int wlb_cdb_connect(sqlite3 **out, const char *path, int flags);
/* One integer from a one-row query, its one parameter bound to arg unless
 * NULL; 0 when the query gives no row.  Returns the SQLite code. */
int wlb_cdb_query_int(sqlite3 *db, const char *sql, const char *arg, int64_t *v);
/* Checks that db (of user_version ver) is a cost DB this wlb can use: not
 * newer than WLB_COSTDB_SCHEMA, and holding every table when current (an
 * older one passes: the writer upgrades it, the reader refuses it).  `verb`
 * is "reads" or "writes", for the message.  0 or a wlb_err. */
int wlb_cdb_check_schema(sqlite3 *db, int64_t ver, const char *path, const char *verb,
			 struct wlb_error *err);

#endif
