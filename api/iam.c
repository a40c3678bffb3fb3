/* api/iam.c - the IAM service (AWS Query protocol, 2010-05-08) and the
 * identity lookups the dispatcher uses (see iam.h).
 *
 * Every mutating action is one write transaction; the handler's answer is
 * rendered only after store_tx_end() committed it. */
#include "api/iam.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/iam_cert.h"
#include "api/xml.h"
#include "common/log.h"

#define IAM_MAX_KEYS_PER_USER 2

struct iam_entity {
	char id[32];
	char name[136];
	char path[64];
	long long created;
};

/* ---- validation ------------------------------------------------------------ */

static bool valid_name(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && !strchr("+=,.@_-", c))
			return false;
	}
	return true;
}

/* A required name parameter checked against IAM's [\w+=,.@-]+ pattern. */
static const char *name_param(struct api_req *req, const char *param, size_t max)
{
	const char *v = api_param_required(req, param);

	if (!v)
		return NULL;
	if (!valid_name(v, max)) {
		char field[64];

		snprintf(field, sizeof(field), "%s", param);
		field[0] = (char)tolower((unsigned char)field[0]);
		api_error(req, 400, "ValidationError",
			  "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "
			  "Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length 1 to %zu",
			  v, field, max);
		return NULL;
	}
	return v;
}

/* ---- row helpers ------------------------------------------------------------- */

static void col_copy(sqlite3_stmt *s, int col, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* 0 found, -ENOENT, -EIO. */
static int entity_get(struct store *st, const char *table, const char *name, struct iam_entity *e)
{
	char sql[128];
	sqlite3_stmt *s;
	int rc, err;

	snprintf(sql, sizeof(sql), "SELECT id, name, path, created FROM %s WHERE name = ?", table);
	s = store_prepare(st, sql);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		col_copy(s, 0, e->id, sizeof(e->id));
		col_copy(s, 1, e->name, sizeof(e->name));
		col_copy(s, 2, e->path, sizeof(e->path));
		e->created = sqlite3_column_int64(s, 3);
		err = 0;
	} else {
		err = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(s);
	return err;
}

/* Runs a statement with text binds (NULL binds SQL NULL); returns sqlite changes() or -EIO. */
static int exec_bind(struct store *st, const char *sql, int n, ...)
{
	sqlite3_stmt *s = store_prepare(st, sql);
	va_list ap;
	int i, rc;

	if (!s)
		return -EIO;
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *v = va_arg(ap, const char *);

		if (v)
			sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, i + 1);
	}
	va_end(ap);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		log_err("sqlite: %s", sqlite3_errmsg(st->db));
		return -EIO;
	}
	return sqlite3_changes(st->db);
}

/* count(*) of a query with text binds; -EIO on error. */
static long long count_bind(struct store *st, const char *sql, int n, ...)
{
	sqlite3_stmt *s = store_prepare(st, sql);
	va_list ap;
	long long v = -EIO;
	int i;

	if (!s)
		return -EIO;
	va_start(ap, n);
	for (i = 0; i < n; i++)
		sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
	va_end(ap);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void user_arn(const struct api *api, const char *path, const char *name, struct strbuf *out)
{
	sb_printf(out, "arn:aws:iam::%s:user%s%s", api->account_id, path, name);
}

static void group_arn(const struct api *api, const char *path, const char *name, struct strbuf *out)
{
	sb_printf(out, "arn:aws:iam::%s:group%s%s", api->account_id, path, name);
}

static void put_time(struct strbuf *out, const char *elem, long long t)
{
	char ts[32];

	api_format_time((time_t)t, ts);
	xml_elem(out, elem, ts);
}

static void put_user(struct api_req *req, const struct iam_entity *u)
{
	struct strbuf arn = STRBUF_INIT;

	user_arn(req->api, u->path, u->name, &arn);
	xml_elem(&req->out, "Path", u->path);
	xml_elem(&req->out, "UserName", u->name);
	xml_elem(&req->out, "UserId", u->id);
	xml_elem(&req->out, "Arn", sb_cstr(&arn));
	put_time(&req->out, "CreateDate", u->created);
	sb_free(&arn);
}

static void put_group(struct api_req *req, const struct iam_entity *g)
{
	struct strbuf arn = STRBUF_INIT;

	group_arn(req->api, g->path, g->name, &arn);
	xml_elem(&req->out, "Path", g->path);
	xml_elem(&req->out, "GroupName", g->name);
	xml_elem(&req->out, "GroupId", g->id);
	xml_elem(&req->out, "Arn", sb_cstr(&arn));
	put_time(&req->out, "CreateDate", g->created);
	sb_free(&arn);
}

static int no_such_user(struct api_req *req, const char *name)
{
	return api_error(req, 404, "NoSuchEntity", "The user with name %s cannot be found.", name);
}

static int no_such_group(struct api_req *req, const char *name)
{
	return api_error(req, 404, "NoSuchEntity", "The group with name %s cannot be found.", name);
}

/* Ends a transaction; a failed commit becomes an internal error (the change
 * was not made, so it must not be acknowledged). */
static int tx_finish(struct api_req *req, int ret)
{
	if (store_tx_end(&req->api->store, ret == 0) && ret == 0)
		return api_internal(req);
	return ret;
}

static int tx_start(struct api_req *req, bool write)
{
	if (store_tx_begin(&req->api->store, write))
		return api_internal(req);
	return 0;
}

/* ---- resources for authorization ------------------------------------------------- */

static int res_user(struct api_req *req, struct strbuf *arn)
{
	const char *n = api_param(req, "UserName");

	if (n && *n)
		user_arn(req->api, "/", n, arn);
	else
		sb_puts(arn, req->who.arn);
	return 0;
}

static int res_group(struct api_req *req, struct strbuf *arn)
{
	const char *n = api_param(req, "GroupName");

	group_arn(req->api, "/", n ? n : "", arn);
	return 0;
}

static int res_policy(struct api_req *req, struct strbuf *arn)
{
	const char *n = api_param(req, "PolicyArn");

	sb_puts(arn, n ? n : "*");
	return 0;
}

/* ---- users ------------------------------------------------------------------------ */

/* CreateUser and CreateGroup: one new row in `table` (iam_users / iam_groups)
 * named by the request parameter `param`, with an id of `id_prefix`.  `what`
 * ("User", "Group") words the EntityAlreadyExists error.  Fills *e on success.
 * Returns tx_finish()'s result: 0, or -1 with the error reply written. */
static int entity_create(struct api_req *req, const char *table, const char *param,
			 size_t max_len, const char *id_prefix, const char *what,
			 struct iam_entity *e)
{
	const char *name = name_param(req, param, max_len);
	const char *path = api_param(req, "Path");
	char ts[24], sql[128];
	int ret = 0, err;

	if (!name)
		return -1;
	if (path && strcmp(path, "/") != 0)
		return api_error(req, 400, "InvalidInput", "haneul supports only the path '/'.");
	if (tx_start(req, true))
		return -1;
	err = entity_get(&req->api->store, table, name, e);
	if (err == 0) {
		ret = api_error(req, 409, "EntityAlreadyExists", "%s with name %s already exists.",
				what, name);
		goto out;
	}
	if (err != -ENOENT) {
		ret = api_internal(req);
		goto out;
	}
	api_random_id(id_prefix, 17, e->id);
	snprintf(e->name, sizeof(e->name), "%s", name);
	strcpy(e->path, "/");
	e->created = (long long)req->api->now();
	snprintf(ts, sizeof(ts), "%lld", e->created);
	snprintf(sql, sizeof(sql), "INSERT INTO %s(id, name, path, created) VALUES (?, ?, ?, ?)", table);
	if (exec_bind(&req->api->store, sql, 4, e->id, e->name, e->path, ts) < 0)
		ret = api_internal(req);
out:
	return tx_finish(req, ret);
}

static int create_user(struct api_req *req)
{
	struct iam_entity u;
	int ret = entity_create(req, "iam_users", "UserName", 64, "AIDA", "User", &u);

	if (ret == 0) {
		xml_open(&req->out, "User");
		put_user(req, &u);
		xml_close(&req->out, "User");
	}
	return ret;
}

static int get_user(struct api_req *req)
{
	const char *name = api_param(req, "UserName");
	struct iam_entity u;
	int ret = 0, err;

	if (!name || !*name) {
		if (req->who.root) {
			/* The root user has no name and no IAM user row. */
			xml_open(&req->out, "User");
			xml_elem(&req->out, "UserId", req->who.account);
			xml_elem(&req->out, "Arn", req->who.arn);
			put_time(&req->out, "CreateDate", 0);
			xml_close(&req->out, "User");
			return 0;
		}
		name = req->who.user_name;
	}
	if (tx_start(req, false))
		return -1;
	err = entity_get(&req->api->store, "iam_users", name, &u);
	if (err == -ENOENT)
		ret = no_such_user(req, name);
	else if (err)
		ret = api_internal(req);
	tx_finish(req, ret);
	if (ret)
		return ret;
	xml_open(&req->out, "User");
	put_user(req, &u);
	xml_close(&req->out, "User");
	return 0;
}

/* Marker-based pagination over names: Marker is the last name returned. */
static int list_entities(struct api_req *req, const char *table, const char *list_elem,
			 const char *member_filter_sql, const char *filter_arg,
			 void (*put)(struct api_req *, const struct iam_entity *))
{
	const char *marker = api_param(req, "Marker");
	const char *max_s = api_param(req, "MaxItems");
	long max = 100;
	char sql[512], last[136] = "";
	sqlite3_stmt *s;
	int rc, n = 0, ret = 0;
	bool truncated = false;

	if (max_s) {
		char *end;

		max = strtol(max_s, &end, 10);
		if (*end || max < 1 || max > 1000)
			return api_error(req, 400, "ValidationError",
					 "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: "
					 "Member must have value between 1 and 1000", max_s);
	}
	snprintf(sql, sizeof(sql),
		 "SELECT id, name, path, created FROM %s WHERE name > ? %s ORDER BY name COLLATE NOCASE LIMIT ?",
		 table, member_filter_sql ? member_filter_sql : "");
	if (tx_start(req, false))
		return -1;
	s = store_prepare(&req->api->store, sql);
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, marker ? marker : "", -1, SQLITE_STATIC);
	if (member_filter_sql) {
		sqlite3_bind_text(s, 2, filter_arg, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, max + 1);
	} else {
		sqlite3_bind_int64(s, 2, max + 1);
	}
	xml_open(&req->out, list_elem);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct iam_entity e;

		if (n == max) {
			truncated = true;
			break;
		}
		col_copy(s, 0, e.id, sizeof(e.id));
		col_copy(s, 1, e.name, sizeof(e.name));
		col_copy(s, 2, e.path, sizeof(e.path));
		e.created = sqlite3_column_int64(s, 3);
		sb_puts(&req->out, "<member>");
		put(req, &e);
		sb_puts(&req->out, "</member>");
		snprintf(last, sizeof(last), "%s", e.name);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = api_internal(req);
	sqlite3_finalize(s);
	xml_close(&req->out, list_elem);
	xml_elem(&req->out, "IsTruncated", truncated ? "true" : "false");
	if (truncated)
		xml_elem(&req->out, "Marker", last);
out:
	return tx_finish(req, ret);
}

static int list_users(struct api_req *req)
{
	return list_entities(req, "iam_users", "Users", NULL, NULL, put_user);
}

static int delete_user(struct api_req *req)
{
	const char *name = name_param(req, "UserName", 64);
	struct store *st = &req->api->store;
	struct iam_entity u;
	int ret = 0, err;

	if (!name)
		return -1;
	if (tx_start(req, true))
		return -1;
	err = entity_get(st, "iam_users", name, &u);
	if (err) {
		ret = err == -ENOENT ? no_such_user(req, name) : api_internal(req);
		goto out;
	}
	/* AWS refuses to delete a user that still has subordinate entities. */
	if (count_bind(st, "SELECT count(*) FROM iam_access_keys WHERE user_id = ?", 1, u.id) != 0) {
		ret = api_error(req, 409, "DeleteConflict", "Cannot delete entity, must delete access keys first.");
		goto out;
	}
	if (count_bind(st, "SELECT count(*) FROM iam_inline_policies WHERE owner_kind='user' AND owner_id = ?", 1, u.id) != 0) {
		ret = api_error(req, 409, "DeleteConflict", "Cannot delete entity, must delete policies first.");
		goto out;
	}
	if (count_bind(st, "SELECT count(*) FROM iam_attached_policies WHERE owner_kind='user' AND owner_id = ?", 1, u.id) != 0) {
		ret = api_error(req, 409, "DeleteConflict", "Cannot delete entity, must detach all policies first.");
		goto out;
	}
	if (count_bind(st, "SELECT count(*) FROM iam_group_members WHERE user_id = ?", 1, u.id) != 0) {
		ret = api_error(req, 409, "DeleteConflict", "Cannot delete entity, must remove users from group first.");
		goto out;
	}
	if (exec_bind(st, "DELETE FROM iam_users WHERE id = ?", 1, u.id) < 0)
		ret = api_internal(req);
out:
	return tx_finish(req, ret);
}

/* ---- access keys -------------------------------------------------------------------- */

/* Resolves the UserName parameter (or the caller) inside a transaction.
 * user_id is "" for the root user.  0 or -1 after an error. */
static int key_owner(struct api_req *req, char *user_id, size_t n, char *user_name, size_t nn)
{
	const char *name = api_param(req, "UserName");
	struct iam_entity u;
	int err;

	if (!name || !*name) {
		if (req->who.root) {
			snprintf(user_id, n, "%s", "");
			snprintf(user_name, nn, "%s", "");
			return 0;
		}
		name = req->who.user_name;
	}
	if (!valid_name(name, 64))
		return name_param(req, "UserName", 64) ? 0 : -1;
	err = entity_get(&req->api->store, "iam_users", name, &u);
	if (err)
		return err == -ENOENT ? no_such_user(req, name) : api_internal(req);
	snprintf(user_id, n, "%s", u.id);
	snprintf(user_name, nn, "%s", u.name);
	return 0;
}

static int create_access_key(struct api_req *req)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct store *st = &req->api->store;
	struct strbuf blob = STRBUF_INIT;
	char uid[32], uname[136], akid[32], secret[41], ts[24];
	unsigned char rnd[40];
	long long have;
	long long now = (long long)req->api->now();
	sqlite3_stmt *s;
	int ret = 0, i;

	if (tx_start(req, true))
		return -1;
	if (key_owner(req, uid, sizeof(uid), uname, sizeof(uname))) {
		ret = -1;
		goto out;
	}
	have = *uid ? count_bind(st, "SELECT count(*) FROM iam_access_keys WHERE user_id = ?", 1, uid)
		    : count_bind(st, "SELECT count(*) FROM iam_access_keys WHERE user_id IS NULL", 0);
	if (have < 0) {
		ret = api_internal(req);
		goto out;
	}
	if (have >= IAM_MAX_KEYS_PER_USER) {
		ret = api_error(req, 409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: %d",
				IAM_MAX_KEYS_PER_USER);
		goto out;
	}
	api_random_id("AKIA", 16, akid);
	if (seal_random(rnd, sizeof(rnd))) {
		ret = api_internal(req);
		goto out;
	}
	for (i = 0; i < 40; i++)
		secret[i] = alphabet[rnd[i] & 63];
	secret[40] = '\0';
	if (seal_encrypt(&req->api->seal, akid, secret, 40, &blob)) {
		ret = api_internal(req);
		goto out;
	}
	s = store_prepare(st, "INSERT INTO iam_access_keys(id, user_id, secret, status, created) VALUES (?, ?, ?, 'Active', ?)");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, akid, -1, SQLITE_STATIC);
	if (*uid)
		sqlite3_bind_text(s, 2, uid, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	sqlite3_bind_blob(s, 3, blob.p, (int)blob.len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		ret = api_internal(req);
	sqlite3_finalize(s);
out:
	ret = tx_finish(req, ret);
	if (ret == 0) {
		xml_open(&req->out, "AccessKey");
		if (*uname)
			xml_elem(&req->out, "UserName", uname);
		xml_elem(&req->out, "AccessKeyId", akid);
		xml_elem(&req->out, "Status", "Active");
		xml_elem(&req->out, "SecretAccessKey", secret);
		snprintf(ts, sizeof(ts), "%lld", now);
		put_time(&req->out, "CreateDate", now);
		xml_close(&req->out, "AccessKey");
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	sb_free(&blob);
	return ret;
}

static int list_access_keys(struct api_req *req)
{
	char uid[32], uname[136];
	sqlite3_stmt *s;
	int ret = 0, rc;

	if (tx_start(req, false))
		return -1;
	if (key_owner(req, uid, sizeof(uid), uname, sizeof(uname))) {
		ret = -1;
		goto out;
	}
	s = store_prepare(&req->api->store, *uid ?
		"SELECT id, status, created FROM iam_access_keys WHERE user_id = ? ORDER BY created, id" :
		"SELECT id, status, created FROM iam_access_keys WHERE user_id IS NULL ORDER BY created, id");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	if (*uid)
		sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
	xml_open(&req->out, "AccessKeyMetadata");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sb_puts(&req->out, "<member>");
		if (*uname)
			xml_elem(&req->out, "UserName", uname);
		xml_elem(&req->out, "AccessKeyId", (const char *)sqlite3_column_text(s, 0));
		xml_elem(&req->out, "Status", (const char *)sqlite3_column_text(s, 1));
		put_time(&req->out, "CreateDate", sqlite3_column_int64(s, 2));
		sb_puts(&req->out, "</member>");
	}
	if (rc != SQLITE_DONE)
		ret = api_internal(req);
	sqlite3_finalize(s);
	xml_close(&req->out, "AccessKeyMetadata");
	xml_elem(&req->out, "IsTruncated", "false");
	if (*uname)
		xml_elem(&req->out, "UserName", uname);
out:
	return tx_finish(req, ret);
}

/* Update (status != NULL) or delete one key of the resolved owner. */
static int change_access_key(struct api_req *req, const char *status)
{
	const char *akid = api_param_required(req, "AccessKeyId");
	char uid[32], uname[136];
	int ret = 0, n;

	if (!akid)
		return -1;
	if (status && strcmp(status, "Active") != 0 && strcmp(status, "Inactive") != 0)
		return api_error(req, 400, "ValidationError",
				 "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: "
				 "Member must satisfy enum value set: [Active, Inactive]", status);
	if (tx_start(req, true))
		return -1;
	if (key_owner(req, uid, sizeof(uid), uname, sizeof(uname))) {
		ret = -1;
		goto out;
	}
	if (status)
		n = *uid ? exec_bind(&req->api->store, "UPDATE iam_access_keys SET status = ? WHERE id = ? AND user_id = ?", 3, status, akid, uid)
			 : exec_bind(&req->api->store, "UPDATE iam_access_keys SET status = ? WHERE id = ? AND user_id IS NULL", 2, status, akid);
	else
		n = *uid ? exec_bind(&req->api->store, "DELETE FROM iam_access_keys WHERE id = ? AND user_id = ?", 2, akid, uid)
			 : exec_bind(&req->api->store, "DELETE FROM iam_access_keys WHERE id = ? AND user_id IS NULL", 1, akid);
	if (n < 0)
		ret = api_internal(req);
	else if (n == 0)
		ret = api_error(req, 404, "NoSuchEntity", "The Access Key with id %s cannot be found.", akid);
out:
	return tx_finish(req, ret);
}

static int update_access_key(struct api_req *req)
{
	const char *status = api_param_required(req, "Status");

	return status ? change_access_key(req, status) : -1;
}

static int delete_access_key(struct api_req *req)
{
	return change_access_key(req, NULL);
}

/* ---- groups ----------------------------------------------------------------------------- */

static int create_group(struct api_req *req)
{
	struct iam_entity g;
	int ret = entity_create(req, "iam_groups", "GroupName", 128, "AGPA", "Group", &g);

	if (ret == 0) {
		xml_open(&req->out, "Group");
		put_group(req, &g);
		xml_close(&req->out, "Group");
	}
	return ret;
}

static int get_group(struct api_req *req)
{
	const char *name = name_param(req, "GroupName", 128);
	struct iam_entity g;
	int ret, err;

	if (!name)
		return -1;
	if (tx_start(req, false))
		return -1;
	err = entity_get(&req->api->store, "iam_groups", name, &g);
	tx_finish(req, 0);
	if (err)
		return err == -ENOENT ? no_such_group(req, name) : api_internal(req);
	xml_open(&req->out, "Group");
	put_group(req, &g);
	xml_close(&req->out, "Group");
	ret = list_entities(req, "iam_users", "Users",
			    "AND id IN (SELECT user_id FROM iam_group_members WHERE group_id = ?)", g.id, put_user);
	return ret;
}

static int list_groups(struct api_req *req)
{
	return list_entities(req, "iam_groups", "Groups", NULL, NULL, put_group);
}

static int list_groups_for_user(struct api_req *req)
{
	const char *name = name_param(req, "UserName", 64);
	struct iam_entity u;
	int err;

	if (!name)
		return -1;
	if (tx_start(req, false))
		return -1;
	err = entity_get(&req->api->store, "iam_users", name, &u);
	tx_finish(req, 0);
	if (err)
		return err == -ENOENT ? no_such_user(req, name) : api_internal(req);
	return list_entities(req, "iam_groups", "Groups",
			     "AND id IN (SELECT group_id FROM iam_group_members WHERE user_id = ?)", u.id, put_group);
}

static int delete_group(struct api_req *req)
{
	const char *name = name_param(req, "GroupName", 128);
	struct store *st = &req->api->store;
	struct iam_entity g;
	int ret = 0, err;

	if (!name)
		return -1;
	if (tx_start(req, true))
		return -1;
	err = entity_get(st, "iam_groups", name, &g);
	if (err) {
		ret = err == -ENOENT ? no_such_group(req, name) : api_internal(req);
		goto out;
	}
	if (count_bind(st, "SELECT count(*) FROM iam_group_members WHERE group_id = ?", 1, g.id) != 0 ||
	    count_bind(st, "SELECT count(*) FROM iam_inline_policies WHERE owner_kind='group' AND owner_id = ?", 1, g.id) != 0 ||
	    count_bind(st, "SELECT count(*) FROM iam_attached_policies WHERE owner_kind='group' AND owner_id = ?", 1, g.id) != 0) {
		ret = api_error(req, 409, "DeleteConflict", "Cannot delete entity, must remove users and policies from group first.");
		goto out;
	}
	if (exec_bind(st, "DELETE FROM iam_groups WHERE id = ?", 1, g.id) < 0)
		ret = api_internal(req);
out:
	return tx_finish(req, ret);
}

static int group_membership(struct api_req *req, bool add)
{
	const char *gname = name_param(req, "GroupName", 128);
	const char *uname = gname ? name_param(req, "UserName", 64) : NULL;
	struct store *st = &req->api->store;
	struct iam_entity g, u;
	int ret = 0, err;

	if (!uname)
		return -1;
	if (tx_start(req, true))
		return -1;
	err = entity_get(st, "iam_groups", gname, &g);
	if (err) {
		ret = err == -ENOENT ? no_such_group(req, gname) : api_internal(req);
		goto out;
	}
	err = entity_get(st, "iam_users", uname, &u);
	if (err) {
		ret = err == -ENOENT ? no_such_user(req, uname) : api_internal(req);
		goto out;
	}
	if (add) {
		if (exec_bind(st, "INSERT OR IGNORE INTO iam_group_members(group_id, user_id) VALUES (?, ?)", 2, g.id, u.id) < 0)
			ret = api_internal(req);
	} else {
		err = exec_bind(st, "DELETE FROM iam_group_members WHERE group_id = ? AND user_id = ?", 2, g.id, u.id);
		if (err < 0)
			ret = api_internal(req);
		else if (err == 0)
			ret = api_error(req, 404, "NoSuchEntity", "The user with name %s cannot be found in group %s.", uname, gname);
	}
out:
	return tx_finish(req, ret);
}

static int add_user_to_group(struct api_req *req)
{
	return group_membership(req, true);
}

static int remove_user_from_group(struct api_req *req)
{
	return group_membership(req, false);
}

/* ---- policies ------------------------------------------------------------------------------- */

/* Owner (user or group) named by the request; 0 or -1 after an error. */
static int policy_owner(struct api_req *req, bool group, struct iam_entity *e)
{
	const char *name = group ? name_param(req, "GroupName", 128) : name_param(req, "UserName", 64);
	int err;

	if (!name)
		return -1;
	err = entity_get(&req->api->store, group ? "iam_groups" : "iam_users", name, e);
	if (err == -ENOENT)
		return group ? no_such_group(req, name) : no_such_user(req, name);
	return err ? api_internal(req) : 0;
}

static int put_policy(struct api_req *req, bool group)
{
	const char *pname = name_param(req, "PolicyName", 128);
	const char *doc = pname ? api_param_required(req, "PolicyDocument") : NULL;
	struct iam_entity e;
	char why[160];
	int ret = 0;

	if (!doc)
		return -1;
	if (policy_validate(doc, why, sizeof(why)))
		return api_error(req, 400, "MalformedPolicyDocument", "%s", why);
	if (tx_start(req, true))
		return -1;
	if (policy_owner(req, group, &e)) {
		ret = -1;
		goto out;
	}
	if (exec_bind(&req->api->store,
		      "INSERT OR REPLACE INTO iam_inline_policies(owner_kind, owner_id, name, document) VALUES (?, ?, ?, ?)",
		      4, group ? "group" : "user", e.id, pname, doc) < 0)
		ret = api_internal(req);
out:
	return tx_finish(req, ret);
}

static int put_user_policy(struct api_req *req)
{
	return put_policy(req, false);
}

static int put_group_policy(struct api_req *req)
{
	return put_policy(req, true);
}

static int get_user_policy(struct api_req *req)
{
	const char *pname = name_param(req, "PolicyName", 128);
	struct iam_entity e;
	sqlite3_stmt *s;
	int ret = 0, rc;

	if (!pname)
		return -1;
	if (tx_start(req, false))
		return -1;
	if (policy_owner(req, false, &e)) {
		ret = -1;
		goto out;
	}
	s = store_prepare(&req->api->store,
			  "SELECT document FROM iam_inline_policies WHERE owner_kind='user' AND owner_id = ? AND name = ?");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, e.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pname, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *doc = (const char *)sqlite3_column_text(s, 0);
		struct strbuf enc = STRBUF_INIT;

		/* IAM returns documents URL-encoded (RFC 3986); the SDKs decode them. */
		query_uri_encode(&enc, doc, strlen(doc), false);
		xml_elem(&req->out, "UserName", e.name);
		xml_elem(&req->out, "PolicyName", pname);
		xml_elem(&req->out, "PolicyDocument", sb_cstr(&enc));
		sb_free(&enc);
	} else if (rc == SQLITE_DONE) {
		ret = api_error(req, 404, "NoSuchEntity", "The user policy with name %s cannot be found.", pname);
	} else {
		ret = api_internal(req);
	}
	sqlite3_finalize(s);
out:
	return tx_finish(req, ret);
}

static int list_user_policies(struct api_req *req)
{
	struct iam_entity e;
	sqlite3_stmt *s;
	int ret = 0, rc;

	if (tx_start(req, false))
		return -1;
	if (policy_owner(req, false, &e)) {
		ret = -1;
		goto out;
	}
	s = store_prepare(&req->api->store,
			  "SELECT name FROM iam_inline_policies WHERE owner_kind='user' AND owner_id = ? ORDER BY name");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, e.id, -1, SQLITE_STATIC);
	xml_open(&req->out, "PolicyNames");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		xml_elem(&req->out, "member", (const char *)sqlite3_column_text(s, 0));
	if (rc != SQLITE_DONE)
		ret = api_internal(req);
	sqlite3_finalize(s);
	xml_close(&req->out, "PolicyNames");
	xml_elem(&req->out, "IsTruncated", "false");
out:
	return tx_finish(req, ret);
}

static int delete_user_policy(struct api_req *req)
{
	const char *pname = name_param(req, "PolicyName", 128);
	struct iam_entity e;
	int ret = 0, n;

	if (!pname)
		return -1;
	if (tx_start(req, true))
		return -1;
	if (policy_owner(req, false, &e)) {
		ret = -1;
		goto out;
	}
	n = exec_bind(&req->api->store,
		      "DELETE FROM iam_inline_policies WHERE owner_kind='user' AND owner_id = ? AND name = ?", 2, e.id, pname);
	if (n < 0)
		ret = api_internal(req);
	else if (n == 0)
		ret = api_error(req, 404, "NoSuchEntity", "The user policy with name %s cannot be found.", pname);
out:
	return tx_finish(req, ret);
}

static int attach_policy(struct api_req *req, bool group, bool attach)
{
	const char *arn = api_param_required(req, "PolicyArn");
	const struct iam_managed_policy *mp;
	struct iam_entity e;
	int ret = 0, n;

	if (!arn)
		return -1;
	mp = iam_managed_find(arn);
	if (!mp && attach)
		return api_error(req, 404, "NoSuchEntity", "Policy %s does not exist or is not attachable.", arn);
	if (tx_start(req, true))
		return -1;
	if (policy_owner(req, group, &e)) {
		ret = -1;
		goto out;
	}
	if (attach) {
		n = exec_bind(&req->api->store,
			      "INSERT OR IGNORE INTO iam_attached_policies(owner_kind, owner_id, policy_arn) VALUES (?, ?, ?)",
			      3, group ? "group" : "user", e.id, arn);
	} else {
		n = exec_bind(&req->api->store,
			      "DELETE FROM iam_attached_policies WHERE owner_kind = ? AND owner_id = ? AND policy_arn = ?",
			      3, group ? "group" : "user", e.id, arn);
		if (n == 0)
			ret = api_error(req, 404, "NoSuchEntity", "Policy %s was not found.", arn);
	}
	if (n < 0)
		ret = api_internal(req);
out:
	return tx_finish(req, ret);
}

static int attach_user_policy(struct api_req *req)
{
	return attach_policy(req, false, true);
}

static int attach_group_policy(struct api_req *req)
{
	return attach_policy(req, true, true);
}

static int detach_user_policy(struct api_req *req)
{
	return attach_policy(req, false, false);
}

static int detach_group_policy(struct api_req *req)
{
	return attach_policy(req, true, false);
}

static int list_attached(struct api_req *req, bool group)
{
	struct iam_entity e;
	sqlite3_stmt *s;
	int ret = 0, rc;

	if (tx_start(req, false))
		return -1;
	if (policy_owner(req, group, &e)) {
		ret = -1;
		goto out;
	}
	s = store_prepare(&req->api->store,
			  "SELECT policy_arn FROM iam_attached_policies WHERE owner_kind = ? AND owner_id = ? ORDER BY policy_arn");
	if (!s) {
		ret = api_internal(req);
		goto out;
	}
	sqlite3_bind_text(s, 1, group ? "group" : "user", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, e.id, -1, SQLITE_STATIC);
	xml_open(&req->out, "AttachedPolicies");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *arn = (const char *)sqlite3_column_text(s, 0);
		const struct iam_managed_policy *mp = iam_managed_find(arn);

		sb_puts(&req->out, "<member>");
		xml_elem(&req->out, "PolicyName", mp ? mp->name : arn);
		xml_elem(&req->out, "PolicyArn", arn);
		sb_puts(&req->out, "</member>");
	}
	if (rc != SQLITE_DONE)
		ret = api_internal(req);
	sqlite3_finalize(s);
	xml_close(&req->out, "AttachedPolicies");
	xml_elem(&req->out, "IsTruncated", "false");
out:
	return tx_finish(req, ret);
}

static int list_attached_user_policies(struct api_req *req)
{
	return list_attached(req, false);
}

static int list_attached_group_policies(struct api_req *req)
{
	return list_attached(req, true);
}

static void put_managed(struct api_req *req, const struct iam_managed_policy *p)
{
	xml_elem(&req->out, "PolicyName", p->name);
	xml_elemf(&req->out, "PolicyId", "ANPAHANEUL%s", "MANAGED");
	xml_elemf(&req->out, "Arn", "arn:aws:iam::aws:policy%s%s", p->path, p->name);
	xml_elem(&req->out, "Path", p->path);
	xml_elem(&req->out, "DefaultVersionId", "v1");
	xml_elem(&req->out, "IsAttachable", "true");
	xml_elem(&req->out, "Description", p->description);
}

static int list_policies(struct api_req *req)
{
	const char *scope = api_param(req, "Scope");
	size_t i;

	xml_open(&req->out, "Policies");
	if (!scope || strcmp(scope, "Local") != 0) {
		for (i = 0; i < iam_n_managed_policies; i++) {
			sb_puts(&req->out, "<member>");
			put_managed(req, &iam_managed_policies[i]);
			sb_puts(&req->out, "</member>");
		}
	}
	xml_close(&req->out, "Policies");
	xml_elem(&req->out, "IsTruncated", "false");
	return 0;
}

static int get_policy(struct api_req *req)
{
	const char *arn = api_param_required(req, "PolicyArn");
	const struct iam_managed_policy *p;

	if (!arn)
		return -1;
	p = iam_managed_find(arn);
	if (!p)
		return api_error(req, 404, "NoSuchEntity", "Policy %s does not exist or is not attachable.", arn);
	xml_open(&req->out, "Policy");
	put_managed(req, p);
	xml_close(&req->out, "Policy");
	return 0;
}

static const struct api_action iam_actions[] = {
	{ "CreateUser", create_user, 0, res_user },
	{ "GetUser", get_user, 0, res_user },
	{ "ListUsers", list_users, 0, NULL },
	{ "DeleteUser", delete_user, API_ACT_NO_RESULT, res_user },
	{ "CreateAccessKey", create_access_key, 0, res_user },
	{ "ListAccessKeys", list_access_keys, 0, res_user },
	{ "UpdateAccessKey", update_access_key, API_ACT_NO_RESULT, res_user },
	{ "DeleteAccessKey", delete_access_key, API_ACT_NO_RESULT, res_user },
	{ "CreateGroup", create_group, 0, res_group },
	{ "GetGroup", get_group, 0, res_group },
	{ "ListGroups", list_groups, 0, NULL },
	{ "ListGroupsForUser", list_groups_for_user, 0, res_user },
	{ "DeleteGroup", delete_group, API_ACT_NO_RESULT, res_group },
	{ "AddUserToGroup", add_user_to_group, API_ACT_NO_RESULT, res_group },
	{ "RemoveUserFromGroup", remove_user_from_group, API_ACT_NO_RESULT, res_group },
	{ "PutUserPolicy", put_user_policy, API_ACT_NO_RESULT, res_user },
	{ "GetUserPolicy", get_user_policy, 0, res_user },
	{ "ListUserPolicies", list_user_policies, 0, res_user },
	{ "DeleteUserPolicy", delete_user_policy, API_ACT_NO_RESULT, res_user },
	{ "PutGroupPolicy", put_group_policy, API_ACT_NO_RESULT, res_group },
	{ "AttachUserPolicy", attach_user_policy, API_ACT_NO_RESULT, res_user },
	{ "DetachUserPolicy", detach_user_policy, API_ACT_NO_RESULT, res_user },
	{ "AttachGroupPolicy", attach_group_policy, API_ACT_NO_RESULT, res_group },
	{ "DetachGroupPolicy", detach_group_policy, API_ACT_NO_RESULT, res_group },
	{ "ListAttachedUserPolicies", list_attached_user_policies, 0, res_user },
	{ "ListAttachedGroupPolicies", list_attached_group_policies, 0, res_group },
	{ "ListPolicies", list_policies, 0, NULL },
	{ "GetPolicy", get_policy, 0, res_policy },
	{ "UploadServerCertificate", iam_cert_upload, 0, iam_cert_resource },
	{ "GetServerCertificate", iam_cert_get, 0, iam_cert_resource },
	{ "ListServerCertificates", iam_cert_list, 0, NULL },
	{ "DeleteServerCertificate", iam_cert_delete, API_ACT_NO_RESULT, iam_cert_resource },
};

const struct api_service iam_service = {
	.name = "iam",
	.prefix = "iam",
	.version = "2010-05-08",
	.xmlns = "https://iam.amazonaws.com/doc/2010-05-08/",
	.proto = API_PROTO_QUERY,
	.global = true,
	.root_ok = true,
	.actions = iam_actions,
	.n_actions = sizeof(iam_actions) / sizeof(iam_actions[0]),
};

/* ---- identity lookups ---------------------------------------------------------------- */

static void fill_principal(struct api *api, struct api_principal *who, const char *akid,
			   const char *user_id, const char *user_name)
{
	memset(who, 0, sizeof(*who));
	snprintf(who->account, sizeof(who->account), "%s", api->account_id);
	snprintf(who->access_key, sizeof(who->access_key), "%s", akid);
	if (!user_id) {
		who->root = true;
		snprintf(who->user_id, sizeof(who->user_id), "%s", api->account_id);
		snprintf(who->arn, sizeof(who->arn), "arn:aws:iam::%s:root", api->account_id);
	} else {
		snprintf(who->user_id, sizeof(who->user_id), "%s", user_id);
		snprintf(who->user_name, sizeof(who->user_name), "%s", user_name);
		snprintf(who->arn, sizeof(who->arn), "arn:aws:iam::%s:user/%s", api->account_id, user_name);
	}
}

int iam_authenticate(struct api *api, const char *access_key, struct api_principal *who,
		     char *secret, size_t secret_len)
{
	struct store *st = &api->store;
	unsigned char blob[256];
	char uid[32] = "", uname[136] = "";
	bool root = false, active = false;
	size_t blob_len = 0;
	sqlite3_stmt *s;
	int rc, err;

	if (strlen(access_key) >= 32)
		return -ENOENT;
	if (store_tx_begin(st, false))
		return -EIO;
	s = store_prepare(st, "SELECT k.user_id, k.secret, k.status, u.name FROM iam_access_keys k "
			      "LEFT JOIN iam_users u ON u.id = k.user_id WHERE k.id = ?");
	if (!s) {
		store_tx_end(st, false);
		return -EIO;
	}
	sqlite3_bind_text(s, 1, access_key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(s, 1);
		int bl = sqlite3_column_bytes(s, 1);

		root = sqlite3_column_type(s, 0) == SQLITE_NULL;
		if (!root) {
			col_copy(s, 0, uid, sizeof(uid));
			col_copy(s, 3, uname, sizeof(uname));
		}
		active = strcmp((const char *)sqlite3_column_text(s, 2), "Active") == 0;
		if (b && bl > 0 && (size_t)bl <= sizeof(blob)) {
			memcpy(blob, b, (size_t)bl);
			blob_len = (size_t)bl;
		}
		err = 0;
	} else {
		err = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (err)
		return err;
	if (!active)
		return -EACCES;
	err = seal_decrypt(&api->seal, access_key, blob, blob_len, secret, secret_len);
	OPENSSL_cleanse(blob, sizeof(blob));
	if (err) {
		log_err("access key %s: stored secret does not decrypt (wrong secret.key?)", access_key);
		return -EIO;
	}
	fill_principal(api, who, access_key, root ? NULL : uid, uname);
	return 0;
}

struct doc_list {
	char **v;
	size_t n, cap;
};

static int doc_push(struct doc_list *l, const char *doc)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n] = strdup(doc);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static int collect(struct store *st, const char *sql, const char *uid, bool arns, struct doc_list *l)
{
	sqlite3_stmt *s = store_prepare(st, sql);
	int rc, err = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		if (arns) {
			const struct iam_managed_policy *mp = iam_managed_find(t);

			if (mp)
				err = doc_push(l, mp->document);
		} else {
			err = doc_push(l, t);
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = -EIO;
	sqlite3_finalize(s);
	return err;
}

int iam_authorize(struct api *api, const struct api_principal *who,
		  const struct policy_request *req, enum policy_decision *out)
{
	struct store *st = &api->store;
	struct doc_list l = { NULL, 0, 0 };
	size_t i;
	int err;

	*out = POLICY_IMPLICIT_DENY;
	if (who->root)
		return -EINVAL;
	if (store_tx_begin(st, false))
		return -EIO;
	err = collect(st, "SELECT document FROM iam_inline_policies WHERE owner_kind='user' AND owner_id = ?",
		      who->user_id, false, &l);
	if (!err)
		err = collect(st, "SELECT policy_arn FROM iam_attached_policies WHERE owner_kind='user' AND owner_id = ?",
			      who->user_id, true, &l);
	if (!err)
		err = collect(st, "SELECT p.document FROM iam_inline_policies p JOIN iam_group_members m "
			      "ON p.owner_kind='group' AND p.owner_id = m.group_id WHERE m.user_id = ?",
			      who->user_id, false, &l);
	if (!err)
		err = collect(st, "SELECT a.policy_arn FROM iam_attached_policies a JOIN iam_group_members m "
			      "ON a.owner_kind='group' AND a.owner_id = m.group_id WHERE m.user_id = ?",
			      who->user_id, true, &l);
	store_tx_end(st, false);
	if (!err)
		*out = policy_evaluate((const char *const *)l.v, l.n, req);
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return err;
}

/* ---- first start ------------------------------------------------------------------------ */

/* Writes path atomically (temp file, fsync, rename) with mode 0600. */
static int write_file_0600(const char *path, const char *data)
{
	char tmp[PATH_MAX + 16];
	size_t n = strlen(data), off = 0;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	close(fd);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int create_root_key(struct api *api)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct store *st = &api->store;
	struct strbuf blob = STRBUF_INIT, file = STRBUF_INIT;
	char akid[32], secret[41], path[PATH_MAX + 32];
	unsigned char rnd[40];
	sqlite3_stmt *s;
	int err, i;

	api_random_id("AKIA", 16, akid);
	err = seal_random(rnd, sizeof(rnd));
	if (err)
		return err;
	for (i = 0; i < 40; i++)
		secret[i] = alphabet[rnd[i] & 63];
	secret[40] = '\0';
	err = seal_encrypt(&api->seal, akid, secret, 40, &blob);
	if (err)
		goto out;
	s = store_prepare(st, "INSERT INTO iam_access_keys(id, user_id, secret, status, created) VALUES (?, NULL, ?, 'Active', ?)");
	if (!s) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_text(s, 1, akid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, blob.p, (int)blob.len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (long long)api->now());
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	if (err)
		goto out;
	/* The file is written before the transaction commits: a crash in between
	 * leaves no root key in the database, and the next start makes a new one. */
	sb_printf(&file, "# haneul root user (account %s): manages IAM only. Keep this file private.\n"
		  "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		  api->account_id, akid, secret);
	snprintf(path, sizeof(path), "%s/root-credentials", api->data_dir);
	err = sb_oom(&file) ? -ENOMEM : write_file_0600(path, file.p);
	if (!err)
		log_info("root user created; credentials written to %s (mode 0600)", path);
out:
	if (file.p)
		OPENSSL_cleanse(file.p, file.len);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	sb_free(&file);
	sb_free(&blob);
	return err;
}

int iam_bootstrap(struct api *api)
{
	struct store *st = &api->store;
	char path[PATH_MAX + 32], buf[64], cfg[128];
	int err;

	err = store_tx_begin(st, true);
	if (err)
		return err;
	err = store_meta_get(st, "account_id", api->account_id, sizeof(api->account_id));
	if (err == -ENOENT) {
		unsigned char r[12];
		int i;

		err = seal_random(r, sizeof(r));
		for (i = 0; !err && i < 12; i++)
			api->account_id[i] = (char)('0' + (i == 0 ? 1 + r[i] % 9 : r[i] % 10));
		api->account_id[12] = '\0';
		if (!err)
			err = store_meta_set(st, "account_id", api->account_id);
	}
	if (!err && store_meta_get(st, "root_created", buf, sizeof(buf)) == -ENOENT) {
		err = create_root_key(api);
		if (!err)
			err = store_meta_set(st, "root_created", "1");
	}
	if (store_tx_end(st, err == 0) && !err)
		err = -EIO;
	if (err) {
		log_err("cannot initialise the account: %s", strerror(-err));
		return err;
	}
	/* A config file for AWS_CONFIG_FILE users; rewritten if the region changes. */
	snprintf(path, sizeof(path), "%s/config", api->data_dir);
	snprintf(cfg, sizeof(cfg), "[default]\nregion = %s\n", api->region);
	if (write_file_0600(path, cfg))
		log_warn("cannot write %s", path);
	return 0;
}
