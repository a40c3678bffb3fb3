/* api/ec2_lt.c - EC2 launch templates: Create/Describe/Delete, versions,
 * ModifyLaunchTemplate (default version).  The template data is stored as
 * the request's LaunchTemplateData.* wire parameters (a JSON object of
 * name -> value without the prefix), which are RunInstances' own parameter
 * names for everything haneul launches with, so Auto Scaling replays them. */
#include "api/ec2_lt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ec2_int.h"
#include "api/xml.h"
#include "common/log.h"

#define LT_MAX 100
#define LT_MAX_VERSIONS 100

struct lt_row {
	char id[32], name[136], created_by[200];
	int def, latest;
	int64_t created;
};

/* Inside a transaction: by id or name.  0, -ENOENT, -EIO. */
static int lt_get(struct store *st, const char *id, const char *name, struct lt_row *r)
{
	sqlite3_stmt *s = store_prepare(st, id ? "SELECT id, name, default_version, latest_version, created, created_by "
						 "FROM ec2_launch_templates WHERE id = ?"
					       : "SELECT id, name, default_version, latest_version, created, created_by "
						 "FROM ec2_launch_templates WHERE name = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id ? id : name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(r->id, sizeof(r->id), "%s", store_col(s, 0));
		snprintf(r->name, sizeof(r->name), "%s", store_col(s, 1));
		r->def = sqlite3_column_int(s, 2);
		r->latest = sqlite3_column_int(s, 3);
		r->created = sqlite3_column_int64(s, 4);
		snprintf(r->created_by, sizeof(r->created_by), "%s", store_col(s, 5));
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int parse_version(const char *v, const struct lt_row *r, int *out)
{
	char *end;
	long n;

	if (!v || strcmp(v, "$Default") == 0) {
		*out = r->def;
		return 0;
	}
	if (strcmp(v, "$Latest") == 0) {
		*out = r->latest;
		return 0;
	}
	n = strtol(v, &end, 10);
	if (!*v || *end || n < 1 || n > 1000000)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

int ec2_lt_resolve(struct store *st, const char *id, const char *name, const char *version, char *id_out,
		   char *name_out, int *ver, json_object **data)
{
	struct lt_row r;
	sqlite3_stmt *s;
	int err = lt_get(st, id, id ? NULL : name, &r), rc;

	*data = NULL;
	if (err)
		return err;
	if (parse_version(version, &r, ver))
		return -EINVAL;
	s = store_prepare(st, "SELECT data FROM ec2_lt_versions WHERE lt_id = ? AND version = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, r.id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, *ver);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*data = json_tokener_parse(store_col(s, 0));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ESRCH : -EIO;
	snprintf(id_out, 32, "%s", r.id);
	snprintf(name_out, 136, "%s", r.name);
	return *data ? 0 : -EIO;
}

static bool lt_name_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	return l >= 3 && l <= 128 &&
	       strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789().-/_") == l;
}

/* The LaunchTemplateData.* parameters as an object; -1 after an error. */
static int template_data(struct api_req *req, json_object **out)
{
	static const char pfx[] = "LaunchTemplateData.";
	json_object *o = json_object_new_object();
	const char *it;

	for (size_t i = 0; i < req->params.n; i++)
		if (strncmp(req->params.v[i].key, pfx, sizeof(pfx) - 1) == 0)
			json_object_object_add(o, req->params.v[i].key + sizeof(pfx) - 1,
					       json_object_new_string(req->params.v[i].val));
	it = json_object_object_get_ex(o, "InstanceType", NULL) ? json_object_get_string(json_object_object_get(o, "InstanceType")) : NULL;
	if (it && !ec2_type_find(it)) {
		json_object_put(o);
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", it);
	}
	if (json_object_object_length(o) == 0) {
		json_object_put(o);
		return api_error(req, 400, "MissingParameter", "The request must contain the parameter LaunchTemplateData");
	}
	*out = o;
	return 0;
}

static int insert_version(struct api_req *req, const char *id, int ver, const char *desc, json_object *data)
{
	sqlite3_stmt *s = store_prepare(&req->api->store,
					"INSERT INTO ec2_lt_versions(lt_id, version, description, data, created, created_by) "
					"VALUES (?,?,?,?,?,?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, ver);
	sqlite3_bind_text(s, 3, desc, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, (int64_t)req->api->now());
	sqlite3_bind_text(s, 6, req->who.arn, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static void xml_lt(struct strbuf *b, const struct lt_row *r)
{
	char t[32];

	xml_elem(b, "launchTemplateId", r->id);
	xml_elem(b, "launchTemplateName", r->name);
	api_format_time((time_t)r->created, t);
	xml_elem(b, "createTime", t);
	xml_elem(b, "createdBy", r->created_by);
	xml_elemf(b, "defaultVersionNumber", "%d", r->def);
	xml_elemf(b, "latestVersionNumber", "%d", r->latest);
}

/* Finds the template of LaunchTemplateId / LaunchTemplateName; -1 after an error. */
static int lt_find(struct api_req *req, struct lt_row *r)
{
	const char *id = api_param(req, "LaunchTemplateId"), *name = api_param(req, "LaunchTemplateName");
	int err;

	if (!id && !name)
		return api_error(req, 400, "MissingParameter", "The request must contain the parameter "
				 "LaunchTemplateName or LaunchTemplateId");
	err = lt_get(&req->api->store, id, id ? NULL : name, r);
	if (err == -ENOENT)
		return id ? api_error(req, 400, "InvalidLaunchTemplateId.NotFound", "The specified launch template, "
				      "with template ID %s, does not exist.", id)
			  : api_error(req, 400, "InvalidLaunchTemplateName.NotFoundException", "The specified launch "
				      "template, with template name %s, does not exist.", name);
	return err ? api_internal(req) : 0;
}

int ec2_h_CreateLaunchTemplate(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "LaunchTemplateName"), *desc = api_param(req, "VersionDescription");
	json_object *data = NULL;
	struct lt_row r;
	sqlite3_stmt *s;
	int err, rc;

	if (!name)
		return -1;
	if (!lt_name_ok(name))
		return api_error(req, 400, "InvalidLaunchTemplateName.MalformedException", "A launch template name must "
				 "be between 3 and 128 characters, and may contain letters, numbers, and the following "
				 "characters: - ( ) . / _.'");
	if (desc && strlen(desc) > 255)
		return api_error(req, 400, "InvalidParameterValue", "VersionDescription is at most 255 characters");
	if (template_data(req, &data))
		return -1;
	if (store_tx_begin(st, true)) {
		json_object_put(data);
		return api_internal(req);
	}
	err = lt_get(st, NULL, name, &r);
	if (err != -ENOENT) {
		store_tx_end(st, false);
		json_object_put(data);
		return err ? api_internal(req) : api_error(req, 400, "InvalidLaunchTemplateName.AlreadyExistsException",
							  "Launch template name already in use.");
	}
	memset(&r, 0, sizeof(r));
	ec2_new_id("lt-", r.id);
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.created_by, sizeof(r.created_by), "%s", req->who.arn);
	r.def = r.latest = 1;
	r.created = req->api->now();
	s = store_prepare(st, "INSERT INTO ec2_launch_templates(id, name, default_version, latest_version, created, "
			      "created_by) SELECT ?,?,1,1,?,? WHERE (SELECT count(*) FROM ec2_launch_templates) < ?");
	rc = -1;
	if (s) {
		sqlite3_bind_text(s, 1, r.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, r.created);
		sqlite3_bind_text(s, 4, r.created_by, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 5, LT_MAX);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	if (rc != SQLITE_DONE || insert_version(req, r.id, 1, desc, data)) {
		store_tx_end(st, false);
		json_object_put(data);
		return api_internal(req);
	}
	if (sqlite3_changes(st->db) == 0) {
		store_tx_end(st, false);
		json_object_put(data);
		return api_error(req, 400, "LaunchTemplateLimitExceeded", "At most %d launch templates", LT_MAX);
	}
	json_object_put(data);
	if (store_tx_end(st, true))
		return api_internal(req);
	sb_puts(&req->out, "<launchTemplate>");
	xml_lt(&req->out, &r);
	sb_puts(&req->out, "</launchTemplate>");
	return 0;
}

static void xml_version(struct strbuf *b, const struct lt_row *r, sqlite3_stmt *s)
{
	/* s: version, description, data, created, created_by */
	json_object *d = json_tokener_parse(store_col(s, 2));
	char t[32];
	static const char *const simple[][2] = { { "ImageId", "imageId" },
						  { "InstanceType", "instanceType" },
						  { "KeyName", "keyName" },
						  { "UserData", "userData" },
						  { "InstanceInitiatedShutdownBehavior", "instanceInitiatedShutdownBehavior" } };

	sb_puts(b, "<item>");
	xml_elem(b, "launchTemplateId", r->id);
	xml_elem(b, "launchTemplateName", r->name);
	xml_elemf(b, "versionNumber", "%d", sqlite3_column_int(s, 0));
	if (sqlite3_column_type(s, 1) != SQLITE_NULL)
		xml_elem(b, "versionDescription", store_col(s, 1));
	api_format_time((time_t)sqlite3_column_int64(s, 3), t);
	xml_elem(b, "createTime", t);
	xml_elem(b, "createdBy", store_col(s, 4));
	xml_elem(b, "defaultVersion", sqlite3_column_int(s, 0) == r->def ? "true" : "false");
	sb_puts(b, "<launchTemplateData>");
	for (size_t i = 0; d && i < sizeof(simple) / sizeof(simple[0]); i++) {
		json_object *v;

		if (json_object_object_get_ex(d, simple[i][0], &v))
			xml_elem(b, simple[i][1], json_object_get_string(v));
	}
	sb_puts(b, "<securityGroupIdSet>");
	for (int i = 1; d && i < 64; i++) {
		char k[32];
		json_object *v;

		snprintf(k, sizeof(k), "SecurityGroupId.%d", i);
		if (!json_object_object_get_ex(d, k, &v))
			break;
		xml_elem(b, "item", json_object_get_string(v));
	}
	sb_puts(b, "</securityGroupIdSet></launchTemplateData></item>");
	json_object_put(d);
}

int ec2_h_CreateLaunchTemplateVersion(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *src = api_param(req, "SourceVersion"), *desc = api_param(req, "VersionDescription");
	json_object *data = NULL, *base = NULL;
	char id[32], name[136];
	struct lt_row r;
	sqlite3_stmt *s;
	int ver, err;

	if (template_data(req, &data))
		return -1;
	if (store_tx_begin(st, true)) {
		json_object_put(data);
		return api_internal(req);
	}
	if (lt_find(req, &r))
		goto fail;
	if (r.latest >= LT_MAX_VERSIONS) {
		api_error(req, 400, "VersionLimitExceeded", "A launch template has at most %d versions", LT_MAX_VERSIONS);
		goto fail;
	}
	if (src) {
		/* The new version is the source's data with the given parameters on top. */
		err = ec2_lt_resolve(st, r.id, NULL, src, id, name, &ver, &base);
		if (err) {
			api_error(req, 400, "InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template "
				  "version %s for launch template ID %s.", src, r.id);
			goto fail;
		}
		json_object_object_foreach(data, k, v) json_object_object_add(base, k, json_object_get(v));
		json_object_put(data);
		data = base;
		base = NULL;
	}
	r.latest++;
	if (insert_version(req, r.id, r.latest, desc, data)) {
		api_internal(req);
		goto fail;
	}
	s = store_prepare(st, "UPDATE ec2_launch_templates SET latest_version = ? WHERE id = ?");
	if (!s) {
		api_internal(req);
		goto fail;
	}
	sqlite3_bind_int(s, 1, r.latest);
	sqlite3_bind_text(s, 2, r.id, -1, SQLITE_STATIC);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	s = store_prepare(st, "SELECT version, description, data, created, created_by FROM ec2_lt_versions WHERE "
			      "lt_id = ? AND version = ?");
	if (err || !s) {
		sqlite3_finalize(s);
		api_internal(req);
		goto fail;
	}
	sqlite3_bind_text(s, 1, r.id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, r.latest);
	if (sqlite3_step(s) == SQLITE_ROW) {
		sb_puts(&req->out, "<launchTemplateVersion>");
		size_t mark = req->out.len;

		xml_version(&req->out, &r, s);
		/* xml_version writes an <item>; the single-version answer has no item wrapper. */
		memmove(req->out.p + mark, req->out.p + mark + 6, req->out.len - mark - 6);
		req->out.len -= 6 + 7;
		req->out.p[req->out.len] = '\0';
		sb_puts(&req->out, "</launchTemplateVersion>");
	}
	sqlite3_finalize(s);
	json_object_put(data);
	if (store_tx_end(st, true))
		return api_internal(req);
	return 0;
fail:
	store_tx_end(st, false);
	json_object_put(data);
	json_object_put(base);
	return -1;
}

int ec2_h_DescribeLaunchTemplates(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char **ids = NULL, **names = NULL;
	size_t nid = 0, nname = 0;
	struct lt_row r;
	sqlite3_stmt *s;

	if (ec2_list(req, "LaunchTemplateId", &ids, &nid) || ec2_list(req, "LaunchTemplateName", &names, &nname)) {
		free(ids);
		return -1;
	}
	if (store_tx_begin(st, false)) {
		free(ids);
		free(names);
		return api_internal(req);
	}
	for (size_t i = 0; i < nid + nname; i++) {
		int err = lt_get(st, i < nid ? ids[i] : NULL, i < nid ? NULL : names[i - nid], &r);

		if (err) {
			store_tx_end(st, false);
			free(ids);
			free(names);
			if (err != -ENOENT)
				return api_internal(req);
			return i < nid ? api_error(req, 400, "InvalidLaunchTemplateId.NotFound", "The specified launch "
						   "template, with template ID %s, does not exist.", ids[i])
				       : api_error(req, 400, "InvalidLaunchTemplateName.NotFoundException",
						   "At least one of the launch templates specified in the request does "
						   "not exist.");
		}
	}
	s = store_prepare(st, "SELECT id FROM ec2_launch_templates ORDER BY seq");
	sb_puts(&req->out, "<launchTemplates>");
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		const char *id = store_col(s, 0);
		bool keep = nid + nname == 0;

		if (lt_get(st, id, NULL, &r))
			continue;
		for (size_t i = 0; i < nid; i++)
			keep = keep || strcmp(ids[i], r.id) == 0;
		for (size_t i = 0; i < nname; i++)
			keep = keep || strcmp(names[i], r.name) == 0;
		if (!keep)
			continue;
		sb_puts(&req->out, "<item>");
		xml_lt(&req->out, &r);
		sb_puts(&req->out, "</item>");
	}
	sb_puts(&req->out, "</launchTemplates>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	free(ids);
	free(names);
	return s ? 0 : api_internal(req);
}

int ec2_h_DescribeLaunchTemplateVersions(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char **vers = NULL;
	size_t nv = 0;
	struct lt_row r;
	sqlite3_stmt *s;

	if (ec2_list(req, "LaunchTemplateVersion", &vers, &nv))
		return -1;
	if (store_tx_begin(st, false)) {
		free(vers);
		return api_internal(req);
	}
	if (lt_find(req, &r)) {
		store_tx_end(st, false);
		free(vers);
		return -1;
	}
	s = store_prepare(st, "SELECT version, description, data, created, created_by FROM ec2_lt_versions WHERE "
			      "lt_id = ? ORDER BY version DESC");
	if (!s) {
		store_tx_end(st, false);
		free(vers);
		return api_internal(req);
	}
	sqlite3_bind_text(s, 1, r.id, -1, SQLITE_STATIC);
	for (size_t i = 0; i < nv; i++) {
		int v;

		if (parse_version(vers[i], &r, &v)) {
			sqlite3_finalize(s);
			store_tx_end(st, false);
			free(vers);
			return api_error(req, 400, "InvalidLaunchTemplateId.VersionNotFound", "Could not find launch "
					 "template version %s for launch template ID %s.", vers[i], r.id);
		}
	}
	sb_puts(&req->out, "<launchTemplateVersionSet>");
	while (sqlite3_step(s) == SQLITE_ROW) {
		int ver = sqlite3_column_int(s, 0);
		bool keep = nv == 0;

		for (size_t i = 0; i < nv; i++) {
			int v = 0;

			parse_version(vers[i], &r, &v);
			keep = keep || v == ver;
		}
		if (keep)
			xml_version(&req->out, &r, s);
	}
	sb_puts(&req->out, "</launchTemplateVersionSet>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	free(vers);
	return 0;
}

int ec2_h_ModifyLaunchTemplate(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *dv = api_param(req, "SetDefaultVersion");
	struct lt_row r;
	sqlite3_stmt *s;
	int v, err;

	if (store_tx_begin(st, true))
		return api_internal(req);
	if (lt_find(req, &r)) {
		store_tx_end(st, false);
		return -1;
	}
	if (dv) {
		if (parse_version(dv, &r, &v) || v > r.latest) {
			store_tx_end(st, false);
			return api_error(req, 400, "InvalidLaunchTemplateId.VersionNotFound", "Could not find launch "
					 "template version %s for launch template ID %s.", dv, r.id);
		}
		s = store_prepare(st, "UPDATE ec2_launch_templates SET default_version = ? WHERE id = ?");
		err = -EIO;
		if (s) {
			sqlite3_bind_int(s, 1, v);
			sqlite3_bind_text(s, 2, r.id, -1, SQLITE_STATIC);
			err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
			sqlite3_finalize(s);
		}
		if (err) {
			store_tx_end(st, false);
			return api_internal(req);
		}
		r.def = v;
	}
	if (store_tx_end(st, true))
		return api_internal(req);
	sb_puts(&req->out, "<launchTemplate>");
	xml_lt(&req->out, &r);
	sb_puts(&req->out, "</launchTemplate>");
	return 0;
}

int ec2_h_DeleteLaunchTemplate(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct lt_row r;
	sqlite3_stmt *s1, *s2;
	int err = -EIO;

	if (store_tx_begin(st, true))
		return api_internal(req);
	if (lt_find(req, &r)) {
		store_tx_end(st, false);
		return -1;
	}
	s1 = store_prepare(st, "DELETE FROM ec2_lt_versions WHERE lt_id = ?");
	s2 = store_prepare(st, "DELETE FROM ec2_launch_templates WHERE id = ?");
	if (s1 && s2) {
		sqlite3_bind_text(s1, 1, r.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s2, 1, r.id, -1, SQLITE_STATIC);
		err = sqlite3_step(s1) == SQLITE_DONE && sqlite3_step(s2) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(s1);
	sqlite3_finalize(s2);
	if (err || store_tx_end(st, true)) {
		if (err)
			store_tx_end(st, false);
		return api_internal(req);
	}
	sb_puts(&req->out, "<launchTemplate>");
	xml_lt(&req->out, &r);
	sb_puts(&req->out, "</launchTemplate>");
	return 0;
}
