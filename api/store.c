/* api/store.c - SQLite state with versioned migrations (see store.h). */
#include "api/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* Append only: migration N (1-based) brings user_version from N-1 to N. */
static const char *const migrations[] = {
	/* 1: account metadata and IAM. */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE iam_users ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  path TEXT NOT NULL DEFAULT '/', created INTEGER NOT NULL);"
	"CREATE TABLE iam_access_keys ("
	"  id TEXT PRIMARY KEY,"
	"  user_id TEXT REFERENCES iam_users(id),"   /* NULL: the root user */
	"  secret BLOB NOT NULL,"                     /* seal.h blob, aad = id */
	"  status TEXT NOT NULL CHECK (status IN ('Active','Inactive')),"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX iam_access_keys_user ON iam_access_keys(user_id);"
	"CREATE TABLE iam_groups ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  path TEXT NOT NULL DEFAULT '/', created INTEGER NOT NULL);"
	"CREATE TABLE iam_group_members ("
	"  group_id TEXT NOT NULL REFERENCES iam_groups(id),"
	"  user_id TEXT NOT NULL REFERENCES iam_users(id),"
	"  PRIMARY KEY (group_id, user_id));"
	"CREATE TABLE iam_inline_policies ("
	"  owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user','group')),"
	"  owner_id TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,"
	"  PRIMARY KEY (owner_kind, owner_id, name));"
	"CREATE TABLE iam_attached_policies ("
	"  owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user','group')),"
	"  owner_id TEXT NOT NULL, policy_arn TEXT NOT NULL,"
	"  PRIMARY KEY (owner_kind, owner_id, policy_arn));",
	/* 2: EC2 (api/ec2*.c): images, the default VPC, instances, tags, EBS
	 * volumes, Elastic IPs, and billing usage intervals. */
	"CREATE TABLE ec2_images ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
	"  kernel TEXT NOT NULL, initrd TEXT, cmdline TEXT NOT NULL DEFAULT '', root_image TEXT,"
	"  root_gib INTEGER NOT NULL DEFAULT 1, owner TEXT NOT NULL, builtin TEXT,"
	"  max_mem_mib INTEGER NOT NULL DEFAULT 0, max_vcpus INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'available', created INTEGER NOT NULL);"
	"CREATE TABLE ec2_vpcs (id TEXT PRIMARY KEY, cidr TEXT NOT NULL, is_default INTEGER NOT NULL);"
	"CREATE TABLE ec2_subnets ("
	"  id TEXT PRIMARY KEY, vpc_id TEXT NOT NULL, az TEXT NOT NULL, cidr TEXT NOT NULL,"
	"  default_for_az INTEGER NOT NULL);"
	"CREATE TABLE ec2_instances ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, reservation TEXT NOT NULL,"
	"  image_id TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,"
	"  reason_code TEXT, reason_msg TEXT, transition TEXT NOT NULL DEFAULT '',"
	"  az TEXT NOT NULL, subnet_id TEXT NOT NULL, vpc_id TEXT NOT NULL,"
	"  private_ip TEXT NOT NULL, public_ip TEXT, user_data TEXT, key_name TEXT,"
	"  client_token TEXT, launch_index INTEGER NOT NULL DEFAULT 0,"
	"  shutdown_behavior TEXT NOT NULL DEFAULT 'stop', hibernation INTEGER NOT NULL DEFAULT 0,"
	"  hibernated INTEGER NOT NULL DEFAULT 0, launch_time INTEGER NOT NULL,"
	"  state_time INTEGER NOT NULL, op TEXT NOT NULL DEFAULT '', op_time INTEGER,"
	"  op_force INTEGER NOT NULL DEFAULT 0, starts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX ec2_instances_token ON ec2_instances(client_token);"
	"CREATE TABLE ec2_tags ("
	"  resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (resource_id, key));"
	"CREATE TABLE ec2_volumes ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, size_gib INTEGER NOT NULL,"
	"  az TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL,"
	"  instance_id TEXT, device TEXT, attach_time INTEGER, attach_state TEXT,"
	"  delete_on_termination INTEGER NOT NULL DEFAULT 0, client_token TEXT);"
	"CREATE TABLE ec2_addresses ("
	"  allocation_id TEXT PRIMARY KEY, public_ip TEXT NOT NULL UNIQUE, instance_id TEXT,"
	"  association_id TEXT, created INTEGER NOT NULL);"
	"CREATE TABLE ec2_usage ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, resource_id TEXT NOT NULL, kind TEXT NOT NULL,"
	"  rate_key TEXT NOT NULL, quantity INTEGER NOT NULL DEFAULT 1, start INTEGER NOT NULL,"
	"  end INTEGER, minimum INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX ec2_usage_open ON ec2_usage(resource_id, end);",
	/* 3: ELBv2 (api/elbv2.c: resources as JSON documents, registered
	 * targets), EC2 launch templates (api/ec2_lt.c), Auto Scaling
	 * (api/asg.c) and CloudWatch datapoints (api/cw.c). */
	"CREATE TABLE elb_res ("
	"  arn TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, parent TEXT, doc TEXT NOT NULL);"
	"CREATE INDEX elb_res_kind ON elb_res(kind, parent);"
	"CREATE TABLE elb_targets ("
	"  tg_arn TEXT NOT NULL, id TEXT NOT NULL, port INTEGER NOT NULL, PRIMARY KEY (tg_arn, id, port));"
	"CREATE TABLE ec2_launch_templates ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,"
	"  default_version INTEGER NOT NULL, latest_version INTEGER NOT NULL, created INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL);"
	"CREATE TABLE ec2_lt_versions ("
	"  lt_id TEXT NOT NULL, version INTEGER NOT NULL, description TEXT, data TEXT NOT NULL,"
	"  created INTEGER NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (lt_id, version));"
	"CREATE TABLE asg_groups ("
	"  name TEXT PRIMARY KEY, doc TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE asg_instances ("
	"  id TEXT PRIMARY KEY, grp TEXT NOT NULL, az TEXT NOT NULL, lifecycle TEXT NOT NULL,"
	"  health TEXT NOT NULL DEFAULT 'Healthy', protected INTEGER NOT NULL DEFAULT 0,"
	"  launched INTEGER NOT NULL, in_service INTEGER, lt_id TEXT, lt_version TEXT,"
	"  drain_until INTEGER, activity TEXT);"
	"CREATE TABLE asg_policies ("
	"  arn TEXT PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,"
	"  UNIQUE (grp, name));"
	"CREATE TABLE asg_activities ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, grp TEXT NOT NULL,"
	"  description TEXT NOT NULL, cause TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}',"
	"  start_ms INTEGER NOT NULL, end_ms INTEGER, status TEXT NOT NULL, progress INTEGER NOT NULL,"
	"  status_msg TEXT);"
	"CREATE INDEX asg_activities_grp ON asg_activities(grp, seq);"
	"CREATE TABLE cw_data ("
	"  ns TEXT NOT NULL, metric TEXT NOT NULL, dims TEXT NOT NULL, ts INTEGER NOT NULL,"
	"  value REAL NOT NULL, unit TEXT NOT NULL);"
	"CREATE INDEX cw_data_key ON cw_data(ns, metric, dims, ts);",
	/* 4: IAM server certificates (api/iam_cert.c); key is a seal.h blob,
	 * aad = id. */
	"CREATE TABLE iam_server_certs ("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  path TEXT NOT NULL DEFAULT '/', body TEXT NOT NULL, chain TEXT,"
	"  key BLOB NOT NULL, expiration INTEGER NOT NULL, created INTEGER NOT NULL);",
};

int store_latest_version(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

static int exec_sql(struct store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("sqlite: %s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

sqlite3_stmt *store_prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_err("sqlite prepare: %s", sqlite3_errmsg(st->db));
		return NULL;
	}
	return s;
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, "PRAGMA user_version");
	int v = -1;

	if (s && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int migrate(struct store *st)
{
	int v = store_schema_version(st), latest = store_latest_version();
	char sql[64];

	if (v < 0)
		return -EIO;
	if (v > latest) {
		log_err("state.db has schema version %d, this haneuld knows only %d", v, latest);
		return -EPROTO;
	}
	for (; v < latest; v++) {
		if (exec_sql(st, "BEGIN IMMEDIATE"))
			return -EIO;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec_sql(st, migrations[v]) || exec_sql(st, sql) || exec_sql(st, "COMMIT")) {
			exec_sql(st, "ROLLBACK");
			return -EIO;
		}
		log_info("state.db migrated to schema version %d", v + 1);
	}
	return 0;
}

int store_open(struct store *st, const char *path)
{
	int err;

	st->db = NULL;
	if (pthread_mutex_init(&st->lock, NULL))
		return -ENOMEM;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_err("sqlite open %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
		err = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* WAL + FULL: a COMMIT that returned is durable even across power loss. */
	err = exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
	if (err)
		goto fail;
	err = migrate(st);
	if (err)
		goto fail;
	return 0;
fail:
	sqlite3_close(st->db);
	st->db = NULL;
	pthread_mutex_destroy(&st->lock);
	return err;
}

void store_close(struct store *st)
{
	if (!st->db)
		return;
	sqlite3_close(st->db);
	st->db = NULL;
	pthread_mutex_destroy(&st->lock);
}

int store_tx_begin(struct store *st, bool write)
{
	pthread_mutex_lock(&st->lock);
	if (exec_sql(st, write ? "BEGIN IMMEDIATE" : "BEGIN")) {
		pthread_mutex_unlock(&st->lock);
		return -EIO;
	}
	return 0;
}

int store_tx_end(struct store *st, bool ok)
{
	int err = 0;

	if (ok) {
		err = exec_sql(st, "COMMIT");
		if (err)
			exec_sql(st, "ROLLBACK");
	} else {
		exec_sql(st, "ROLLBACK");
	}
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_meta_get(struct store *st, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT value FROM meta WHERE key = ?");
	int rc, err = -ENOENT;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(s, 0));
		err = 0;
	} else if (rc != SQLITE_DONE) {
		err = -EIO;
	}
	sqlite3_finalize(s);
	return err;
}

int store_meta_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

/* store_prepare() with text binds ?1..?3 (each skipped when NULL); the
 * statement (the caller finalizes it) or NULL. */
static sqlite3_stmt *prepare_bound(struct store *st, const char *sql, const char *a, const char *b, const char *c)
{
	sqlite3_stmt *s = store_prepare(st, sql);

	if (!s)
		return NULL;
	if (a)
		sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	if (c)
		sqlite3_bind_text(s, 3, c, -1, SQLITE_STATIC);
	return s;
}

int store_exec3(struct store *st, const char *sql, const char *a, const char *b, const char *c)
{
	sqlite3_stmt *s = prepare_bound(st, sql, a, b, c);
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int store_exec(struct store *st, const char *sql, const char *a, const char *b)
{
	return store_exec3(st, sql, a, b, NULL);
}

int store_exists(struct store *st, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *s = prepare_bound(st, sql, a, b, NULL);
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

const char *store_col(sqlite3_stmt *s, int i)
{
	const char *p = (const char *)sqlite3_column_text(s, i);

	return p ? p : "";
}

void store_col_copy(char *dst, size_t n, sqlite3_stmt *s, int i)
{
	snprintf(dst, n, "%s", store_col(s, i));
}
