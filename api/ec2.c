/* api/ec2.c - the EC2 service: action table, context, images, instance
 * types, regions and zones, the default VPC, tags, and the helpers the other
 * ec2 modules share (filters, pagination, ids).  See ec2.h and docs/ec2.md. */
#include "api/ec2.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/ec2_int.h"
#include "api/ec2_net.h"
#include "api/seal.h"
#include "api/stubs.h"
#include "api/xml.h"
#include "common/log.h"
#include "common/netaddr.h"

/* ---- constant tables ------------------------------------------------------------ */

static const struct ec2_type types[] = {
#define EC2_TYPE(n, c, m, p) { n, c, m, p },
#define EC2_VOLTYPE(n, p)
#define EC2_EIP_IDLE(p)
#include "api/ec2_prices.def"
#undef EC2_TYPE
#undef EC2_VOLTYPE
#undef EC2_EIP_IDLE
};

static const struct {
	const char *name;
	uint64_t micro_usd_gib_month;
} voltypes[] = {
#define EC2_TYPE(n, c, m, p)
#define EC2_VOLTYPE(n, p) { n, p },
#define EC2_EIP_IDLE(p)
#include "api/ec2_prices.def"
#undef EC2_TYPE
#undef EC2_VOLTYPE
#undef EC2_EIP_IDLE
};

static const uint64_t eip_idle_price =
#define EC2_TYPE(n, c, m, p)
#define EC2_VOLTYPE(n, p)
#define EC2_EIP_IDLE(p) p +
#include "api/ec2_prices.def"
#undef EC2_TYPE
#undef EC2_VOLTYPE
#undef EC2_EIP_IDLE
	0;

#define N_AZ 3
static const char az_suffix[N_AZ] = { 'a', 'b', 'c' };

const struct ec2_type *ec2_type_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

uint64_t ec2_voltype_price(const char *type)
{
	size_t i;

	for (i = 0; type && i < sizeof(voltypes) / sizeof(voltypes[0]); i++)
		if (strcmp(voltypes[i].name, type) == 0)
			return voltypes[i].micro_usd_gib_month;
	return 0;
}

uint64_t ec2_eip_idle_price(void)
{
	return eip_idle_price;
}

bool ec2_az_valid(const struct api *api, const char *az)
{
	size_t rl = strlen(api->region);
	int i;

	if (!az || strlen(az) != rl + 1 || strncmp(az, api->region, rl) != 0)
		return false;
	for (i = 0; i < N_AZ; i++)
		if (az[rl] == az_suffix[i])
			return true;
	return false;
}

void ec2_new_id(const char *prefix, char out[EC2_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[17];
	size_t pl = strlen(prefix), i;

	if (seal_random(r, sizeof(r)))
		abort(); /* no randomness: ids would collide */
	memcpy(out, prefix, pl);
	for (i = 0; i < 17; i++)
		out[pl + i] = hex[r[i] & 15];
	out[pl + 17] = '\0';
}

int ec2_state_code(const char *s)
{
	static const struct {
		const char *n;
		int c;
	} codes[] = { { "pending", 0 }, { "running", 16 }, { "shutting-down", 32 },
		      { "terminated", 48 }, { "stopping", 64 }, { "stopped", 80 } };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].n, s) == 0)
			return codes[i].c;
	return 0;
}

void ec2_kick(struct ec2 *e)
{
	pthread_mutex_lock(&e->mu);
	e->kicks++;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void ec2_run_dir(const struct ec2 *e, const char *id, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", e->run_root, id);
}

void ec2_vol_path(const struct ec2 *e, const char *vol, char *out, size_t n)
{
	snprintf(out, n, "%s/%s.img", e->vol_root, vol);
}

/* ---- request helpers -------------------------------------------------------------- */

int ec2_list(struct api_req *req, const char *prefix, const char ***out, size_t *n)
{
	unsigned *idx = NULL;
	const char **v;
	int cnt = query_list_indices(&req->params, prefix, &idx), i;

	*out = NULL;
	*n = 0;
	if (cnt < 0) {
		free(idx);
		return api_error(req, 400, "InvalidParameterValue", "Invalid list parameter %s.N", prefix);
	}
	v = calloc((size_t)cnt + 1, sizeof(*v));
	if (!v) {
		free(idx);
		return api_internal(req);
	}
	for (i = 0; i < cnt; i++) {
		const char *s = query_list_get(&req->params, prefix, idx[i], NULL);

		if (s)
			v[(*n)++] = s;
	}
	free(idx);
	*out = v;
	return 0;
}

int ec2_filters_parse(struct api_req *req, struct ec2_filter *f, size_t *n)
{
	unsigned *idx = NULL, *vidx = NULL;
	int cnt = query_list_indices(&req->params, "Filter", &idx), i, j, vc;
	char pfx[64];

	*n = 0;
	if (cnt < 0)
		goto bad;
	if (cnt > EC2_MAX_FILTERS) {
		free(idx);
		return api_error(req, 400, "FilterLimitExceeded", "The maximum number of filters is %d.",
				 EC2_MAX_FILTERS);
	}
	for (i = 0; i < cnt; i++) {
		struct ec2_filter *x = &f[*n];

		x->name = query_list_get(&req->params, "Filter", idx[i], "Name");
		x->n = 0;
		if (!x->name) {
			free(idx);
			return api_error(req, 400, "InvalidParameterValue", "Filter.%u has no Name", idx[i]);
		}
		snprintf(pfx, sizeof(pfx), "Filter.%u.Value", idx[i]);
		vc = query_list_indices(&req->params, pfx, &vidx);
		if (vc < 0)
			goto bad;
		for (j = 0; j < vc && x->n < sizeof(x->vals) / sizeof(x->vals[0]); j++) {
			const char *v = query_list_get(&req->params, pfx, vidx[j], NULL);

			if (v)
				x->vals[x->n++] = v;
		}
		free(vidx);
		vidx = NULL;
		(*n)++;
	}
	free(idx);
	return 0;
bad:
	free(idx);
	free(vidx);
	return api_error(req, 400, "InvalidParameterValue", "Malformed Filter parameters.");
}

bool ec2_filter_match(const struct ec2_filter *f, const char *value)
{
	size_t i;

	if (!value)
		return false;
	for (i = 0; i < f->n; i++)
		if (fnmatch(f->vals[i], value, 0) == 0)
			return true;
	return false;
}

bool ec2_filter_tags(const struct ec2_filter *f, const struct ec2_tag *tags, size_t n, bool *is_tag)
{
	size_t i;

	*is_tag = true;
	if (strncmp(f->name, "tag:", 4) == 0) {
		for (i = 0; i < n; i++)
			if (strcmp(tags[i].key, f->name + 4) == 0 && ec2_filter_match(f, tags[i].value))
				return true;
		return false;
	}
	if (strcmp(f->name, "tag-key") == 0 || strcmp(f->name, "tag-value") == 0) {
		bool key = f->name[4] == 'k';

		for (i = 0; i < n; i++)
			if (ec2_filter_match(f, key ? tags[i].key : tags[i].value))
				return true;
		return false;
	}
	*is_tag = false;
	return true;
}

int ec2_page(struct api_req *req, int min_results, int *max, int64_t *after)
{
	const char *m = api_param(req, "MaxResults"), *t = api_param(req, "NextToken");
	char *end;
	long v;

	*max = 1000;
	*after = 0;
	if (m) {
		v = strtol(m, &end, 10);
		if (*end || v < min_results || v > 1000)
			return api_error(req, 400, "InvalidParameterValue",
					 "Value ( %s ) for parameter maxResults is invalid. Expecting a value between %d and 1000.",
					 m, min_results);
		*max = (int)v;
	}
	if (t && *t) {
		long long a;

		if (strncmp(t, "hn1-", 4) != 0 || (a = strtoll(t + 4, &end, 10)) <= 0 || *end)
			return api_error(req, 400, "InvalidNextToken", "The token '%s' is invalid.", t);
		*after = a;
	}
	return 0;
}

/* ---- tags ------------------------------------------------------------------------- */

int ec2_tags_load(struct store *st, const char *id, struct ec2_tag **tags, size_t *n)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT key, value FROM ec2_tags WHERE resource_id = ? ORDER BY key");
	struct ec2_tag *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*tags = NULL;
	*n = 0;
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			struct ec2_tag *nv = realloc(v, (cap ? cap * 2 : 4) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap = cap ? cap * 2 : 4;
		}
		v[cnt].key = strdup((const char *)sqlite3_column_text(s, 0));
		v[cnt].value = strdup((const char *)sqlite3_column_text(s, 1));
		cnt++;
		if (!v[cnt - 1].key || !v[cnt - 1].value)
			break;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		ec2_tags_free(v, cnt);
		return -EIO;
	}
	*tags = v;
	*n = cnt;
	return 0;
}

void ec2_tags_free(struct ec2_tag *tags, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

void ec2_tags_xml(struct strbuf *b, const struct ec2_tag *tags, size_t n)
{
	size_t i;

	if (!n) {
		sb_puts(b, "<tagSet/>");
		return;
	}
	sb_puts(b, "<tagSet>");
	for (i = 0; i < n; i++) {
		sb_puts(b, "<item>");
		xml_elem(b, "key", tags[i].key);
		xml_elem(b, "value", tags[i].value);
		sb_puts(b, "</item>");
	}
	sb_puts(b, "</tagSet>");
}

static int tag_put(struct store *st, const char *id, const char *k, const char *v)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT OR REPLACE INTO ec2_tags(resource_id, key, value) VALUES (?, ?, ?)");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, v ? v : "", -1, SQLITE_STATIC);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

static int check_tag(struct api_req *req, const char *k, const char *v)
{
	if (!k || !*k)
		return api_error(req, 400, "InvalidParameterValue", "Tag keys must not be empty.");
	if (strlen(k) > 128 || (v && strlen(v) > 256))
		return api_error(req, 400, "InvalidParameterValue",
				 "Tag keys are at most 128 and values at most 256 characters.");
	if (strncasecmp(k, "aws:", 4) == 0)
		return api_error(req, 400, "InvalidParameterValue",
				 "Tag keys starting with 'aws:' are reserved for internal use");
	return 0;
}

int ec2_tag_specs_check(struct api_req *req)
{
	unsigned *idx = NULL, *tidx = NULL;
	int cnt = query_list_indices(&req->params, "TagSpecification", &idx), i, j, tc, ret = 0;
	char pfx[64];

	for (i = 0; i < cnt && !ret; i++) {
		const char *rt = query_list_get(&req->params, "TagSpecification", idx[i], "ResourceType");

		if (!rt || (strcmp(rt, "instance") && strcmp(rt, "volume"))) {
			ret = api_error(req, 400, "InvalidParameterValue",
					"'%s' is not a valid taggable resource type for this operation.", rt ? rt : "");
			break;
		}
		snprintf(pfx, sizeof(pfx), "TagSpecification.%u.Tag", idx[i]);
		tc = query_list_indices(&req->params, pfx, &tidx);
		for (j = 0; j < tc && !ret; j++)
			ret = check_tag(req, query_list_get(&req->params, pfx, tidx[j], "Key"),
					query_list_get(&req->params, pfx, tidx[j], "Value"));
		free(tidx);
		tidx = NULL;
	}
	free(idx);
	return ret;
}

int ec2_tag_specs_apply(struct api_req *req, const char *rtype, const char *id)
{
	unsigned *idx = NULL, *tidx = NULL;
	int cnt = query_list_indices(&req->params, "TagSpecification", &idx), i, j, tc, err = 0;
	char pfx[64];

	for (i = 0; i < cnt && !err; i++) {
		const char *rt = query_list_get(&req->params, "TagSpecification", idx[i], "ResourceType");

		if (!rt || strcmp(rt, rtype))
			continue;
		snprintf(pfx, sizeof(pfx), "TagSpecification.%u.Tag", idx[i]);
		tc = query_list_indices(&req->params, pfx, &tidx);
		for (j = 0; j < tc && !err; j++)
			err = tag_put(&req->api->store, id, query_list_get(&req->params, pfx, tidx[j], "Key"),
				      query_list_get(&req->params, pfx, tidx[j], "Value"));
		free(tidx);
		tidx = NULL;
	}
	free(idx);
	return err;
}

/* Which table holds a resource id, by prefix; NULL for an unknown kind. */
static const char *resource_sql(const char *id, const char **rtype)
{
	static const struct {
		const char *prefix, *rtype, *sql;
	} kinds[] = {
		{ "i-", "instance", "SELECT 1 FROM ec2_instances WHERE id = ?" },
		{ "vol-", "volume", "SELECT 1 FROM ec2_volumes WHERE id = ? AND state != 'deleted'" },
		{ "ami-", "image", "SELECT 1 FROM ec2_images WHERE id = ?" },
		{ "vpc-", "vpc", "SELECT 1 FROM ec2_vpcs WHERE id = ?" },
		{ "subnet-", "subnet", "SELECT 1 FROM ec2_subnets WHERE id = ?" },
		{ "eipalloc-", "elastic-ip", "SELECT 1 FROM ec2_addresses WHERE allocation_id = ?" },
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(id, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
			*rtype = kinds[i].rtype;
			return kinds[i].sql;
		}
	return NULL;
}

static int resource_exists(struct store *st, const char *id)
{
	const char *rt, *sql = resource_sql(id, &rt);
	sqlite3_stmt *s;
	int rc;

	if (!sql)
		return 0;
	s = store_prepare(st, sql);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

static int not_found(struct api_req *req, const char *id)
{
	if (strncmp(id, "i-", 2) == 0)
		return api_error(req, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id);
	if (strncmp(id, "vol-", 4) == 0)
		return api_error(req, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
	if (strncmp(id, "ami-", 4) == 0)
		return api_error(req, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id);
	return api_error(req, 400, "InvalidID", "The ID '%s' is not valid", id);
}

static int tags_change(struct api_req *req, bool create)
{
	struct store *st = &req->api->store;
	const char **ids = NULL;
	unsigned *tidx = NULL;
	size_t n = 0, i;
	int tc, j, ok = 0, err = -1;

	if (ec2_list(req, "ResourceId", &ids, &n))
		return -1;
	if (!n) {
		free(ids);
		return api_error(req, 400, "MissingParameter", "The request must contain the parameter resourceIdSet");
	}
	tc = query_list_indices(&req->params, "Tag", &tidx);
	if (tc < 0 || (create && tc == 0)) {
		api_error(req, 400, "MissingParameter", "The request must contain the parameter tagSet");
		goto out;
	}
	for (j = 0; j < tc; j++)
		if (create && check_tag(req, query_list_get(&req->params, "Tag", tidx[j], "Key"),
					query_list_get(&req->params, "Tag", tidx[j], "Value")))
			goto out;
	if (store_tx_begin(st, true)) {
		api_internal(req);
		goto out;
	}
	for (i = 0; i < n && !ok; i++) {
		int ex = resource_exists(st, ids[i]);

		if (ex < 0)
			ok = api_internal(req);
		else if (!ex)
			ok = not_found(req, ids[i]);
	}
	for (i = 0; i < n && !ok; i++) {
		if (!create && tc == 0) {
			sqlite3_stmt *s = store_prepare(st, "DELETE FROM ec2_tags WHERE resource_id = ?");

			if (!s) {
				ok = api_internal(req);
				break;
			}
			sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_DONE)
				ok = api_internal(req);
			sqlite3_finalize(s);
			continue;
		}
		for (j = 0; j < tc && !ok; j++) {
			const char *k = query_list_get(&req->params, "Tag", tidx[j], "Key");
			const char *v = query_list_get(&req->params, "Tag", tidx[j], "Value");

			if (!k) {
				ok = api_error(req, 400, "InvalidParameterValue", "Tag.%u has no Key", tidx[j]);
			} else if (create) {
				if (tag_put(st, ids[i], k, v))
					ok = api_internal(req);
			} else {
				/* DeleteTags: with a Value only that value goes. */
				sqlite3_stmt *s = store_prepare(st, v ?
					"DELETE FROM ec2_tags WHERE resource_id = ? AND key = ? AND value = ?" :
					"DELETE FROM ec2_tags WHERE resource_id = ? AND key = ?");

				if (!s) {
					ok = api_internal(req);
					break;
				}
				sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 2, k, -1, SQLITE_STATIC);
				if (v)
					sqlite3_bind_text(s, 3, v, -1, SQLITE_STATIC);
				if (sqlite3_step(s) != SQLITE_DONE)
					ok = api_internal(req);
				sqlite3_finalize(s);
			}
		}
	}
	if (store_tx_end(st, ok == 0) && ok == 0)
		ok = api_internal(req);
	if (ok == 0) {
		sb_puts(&req->out, "<return>true</return>");
		err = 0;
	}
out:
	free(ids);
	free(tidx);
	return err;
}

static int h_create_tags(struct api_req *req)
{
	return tags_change(req, true);
}

static int h_delete_tags(struct api_req *req)
{
	return tags_change(req, false);
}

static int h_describe_tags(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	size_t nf, i;
	sqlite3_stmt *s;
	int max, rc, count = 0;
	int64_t after;

	if (ec2_filters_parse(req, f, &nf) || ec2_page(req, 5, &max, &after))
		return -1;
	if (store_tx_begin(st, false))
		return api_internal(req);
	s = store_prepare(st, "SELECT rowid, resource_id, key, value FROM ec2_tags WHERE rowid > ? ORDER BY rowid");
	if (!s) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	sqlite3_bind_int64(s, 1, after);
	sb_puts(&req->out, "<tagSet>");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 1);
		const char *k = (const char *)sqlite3_column_text(s, 2);
		const char *v = (const char *)sqlite3_column_text(s, 3);
		const char *rt = "unknown";
		bool keep = true;

		resource_sql(id, &rt);
		for (i = 0; i < nf && keep; i++) {
			const char *x = strcmp(f[i].name, "resource-id") == 0 ? id :
					strcmp(f[i].name, "resource-type") == 0 ? rt :
					strcmp(f[i].name, "key") == 0 ? k :
					strcmp(f[i].name, "value") == 0 ? v : NULL;

			if (!x) {
				sqlite3_finalize(s);
				store_tx_end(st, false);
				return api_error(req, 400, "InvalidParameterValue",
						 "The filter '%s' is invalid", f[i].name);
			}
			keep = ec2_filter_match(&f[i], x);
		}
		if (!keep)
			continue;
		if (count == max) {
			sb_puts(&req->out, "</tagSet>");
			sb_printf(&req->out, "<nextToken>hn1-%lld</nextToken>", (long long)sqlite3_column_int64(s, 0) - 1);
			goto done;
		}
		count++;
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "resourceId", id);
		xml_elem(&req->out, "resourceType", rt);
		xml_elem(&req->out, "key", k);
		xml_elem(&req->out, "value", v);
		sb_puts(&req->out, "</item>");
	}
	sb_puts(&req->out, "</tagSet>");
done:
	sqlite3_finalize(s);
	store_tx_end(st, false);
	return 0;
}

/* ---- regions, zones, instance types ------------------------------------------------- */

static int h_describe_regions(struct api_req *req)
{
	sb_puts(&req->out, "<regionInfo><item>");
	xml_elem(&req->out, "regionName", req->api->region);
	xml_elemf(&req->out, "regionEndpoint", "ec2.%s.amazonaws.com", req->api->region);
	xml_elem(&req->out, "optInStatus", "opt-in-not-required");
	sb_puts(&req->out, "</item></regionInfo>");
	return 0;
}

static int h_describe_azs(struct api_req *req)
{
	struct ec2_filter f[EC2_MAX_FILTERS];
	const char **names = NULL;
	size_t nf, nn, i, j;
	char az[48];
	int k;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "ZoneName", &names, &nn))
		return -1;
	for (i = 0; i < nn; i++)
		if (!ec2_az_valid(req->api, names[i])) {
			api_error(req, 400, "InvalidParameterValue", "The zone '%s' does not exist.", names[i]);
			free(names);
			return -1;
		}
	sb_puts(&req->out, "<availabilityZoneInfo>");
	for (k = 0; k < N_AZ; k++) {
		bool keep = nn == 0;

		snprintf(az, sizeof(az), "%s%c", req->api->region, az_suffix[k]);
		for (i = 0; i < nn; i++)
			keep = keep || strcmp(names[i], az) == 0;
		for (j = 0; j < nf && keep; j++)
			if (strcmp(f[j].name, "zone-name") == 0)
				keep = ec2_filter_match(&f[j], az);
			else if (strcmp(f[j].name, "state") == 0)
				keep = ec2_filter_match(&f[j], "available");
			else if (strcmp(f[j].name, "region-name") == 0)
				keep = ec2_filter_match(&f[j], req->api->region);
		if (!keep)
			continue;
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "zoneName", az);
		xml_elem(&req->out, "zoneState", "available");
		xml_elem(&req->out, "regionName", req->api->region);
		xml_elemf(&req->out, "zoneId", "hn-az%d", k + 1);
		xml_elem(&req->out, "zoneType", "availability-zone");
		xml_elem(&req->out, "optInStatus", "opt-in-not-required");
		xml_elem(&req->out, "groupName", req->api->region);
		xml_elem(&req->out, "networkBorderGroup", req->api->region);
		sb_puts(&req->out, "<messageSet/></item>");
	}
	sb_puts(&req->out, "</availabilityZoneInfo>");
	free(names);
	return 0;
}

static int h_describe_instance_types(struct api_req *req)
{
	struct ec2_filter f[EC2_MAX_FILTERS];
	const char **names = NULL;
	size_t nf, nn, i, j;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "InstanceType", &names, &nn))
		return -1;
	for (i = 0; i < nn; i++)
		if (!ec2_type_find(names[i])) {
			api_error(req, 400, "InvalidInstanceType", "The following supplied instance types do not exist: [%s]",
				  names[i]);
			free(names);
			return -1;
		}
	sb_puts(&req->out, "<instanceTypeSet>");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct ec2_type *t = &types[i];
		char mem[32], vc[16];
		bool keep = nn == 0;

		for (j = 0; j < nn; j++)
			keep = keep || strcmp(names[j], t->name) == 0;
		snprintf(mem, sizeof(mem), "%u", t->mem_mib);
		snprintf(vc, sizeof(vc), "%u", t->vcpus);
		for (j = 0; j < nf && keep; j++)
			if (strcmp(f[j].name, "instance-type") == 0)
				keep = ec2_filter_match(&f[j], t->name);
			else if (strcmp(f[j].name, "memory-info.size-in-mib") == 0)
				keep = ec2_filter_match(&f[j], mem);
			else if (strcmp(f[j].name, "vcpu-info.default-vcpus") == 0)
				keep = ec2_filter_match(&f[j], vc);
		if (!keep)
			continue;
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "instanceType", t->name);
		sb_puts(&req->out, "<currentGeneration>true</currentGeneration><freeTierEligible>false</freeTierEligible>"
			"<supportedUsageClasses><item>on-demand</item></supportedUsageClasses>"
			"<supportedRootDeviceTypes><item>ebs</item></supportedRootDeviceTypes>"
			"<supportedVirtualizationTypes><item>hvm</item></supportedVirtualizationTypes>"
			"<bareMetal>false</bareMetal><hypervisor>haneul</hypervisor>"
			"<processorInfo><supportedArchitectures><item>x86_64</item></supportedArchitectures></processorInfo>");
		sb_printf(&req->out, "<vCpuInfo><defaultVCpus>%u</defaultVCpus><defaultCores>%u</defaultCores>"
			  "<defaultThreadsPerCore>1</defaultThreadsPerCore></vCpuInfo>", t->vcpus, t->vcpus);
		sb_printf(&req->out, "<memoryInfo><sizeInMiB>%u</sizeInMiB></memoryInfo>", t->mem_mib);
		sb_puts(&req->out, "<instanceStorageSupported>false</instanceStorageSupported>"
			"<ebsInfo><ebsOptimizedSupport>default</ebsOptimizedSupport><encryptionSupport>supported</encryptionSupport></ebsInfo>"
			"<networkInfo><networkPerformance>Up to 5 Gigabit</networkPerformance><maximumNetworkInterfaces>1</maximumNetworkInterfaces>"
			"<ipv4AddressesPerInterface>1</ipv4AddressesPerInterface></networkInfo>"
			"<hibernationSupported>true</hibernationSupported>");
		xml_elem(&req->out, "burstablePerformanceSupported", strncmp(t->name, "t3.", 3) == 0 ? "true" : "false");
		sb_puts(&req->out, "<supportedBootModes><item>legacy-bios</item></supportedBootModes></item>");
	}
	sb_puts(&req->out, "</instanceTypeSet>");
	free(names);
	return 0;
}

/* ---- images ----------------------------------------------------------------------- */

static int image_insert(struct api *api, const char *name, const char *desc, const char *kernel, const char *initrd,
			const char *cmdline, const char *root, unsigned root_gib, const char *owner, const char *builtin,
			unsigned max_mem, unsigned max_vcpus, char id[EC2_ID_LEN])
{
	sqlite3_stmt *s = store_prepare(&api->store,
		"INSERT INTO ec2_images(id, name, description, kernel, initrd, cmdline, root_image, root_gib, owner,"
		" builtin, max_mem_mib, max_vcpus, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
	int err;

	if (!s)
		return -EIO;
	ec2_new_id("ami-", id);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, desc ? desc : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, kernel, -1, SQLITE_STATIC);
	if (initrd)
		sqlite3_bind_text(s, 5, initrd, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, cmdline ? cmdline : "", -1, SQLITE_STATIC);
	if (root)
		sqlite3_bind_text(s, 7, root, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, (int)root_gib);
	sqlite3_bind_text(s, 9, owner, -1, SQLITE_STATIC);
	if (builtin)
		sqlite3_bind_text(s, 10, builtin, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 11, (int)max_mem);
	sqlite3_bind_int(s, 12, (int)max_vcpus);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)api->now());
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

/* The built-in images: registered once, their files re-pointed at every
 * start (the build directory may move). */
static int builtin_image(struct ec2 *e, const char *key, const char *name, const char *desc, const char *kernel,
			 const char *initrd, const char *cmdline, unsigned root_gib, unsigned max_mem, unsigned max_vcpus)
{
	struct api *api = e->api;
	sqlite3_stmt *s;
	char id[EC2_ID_LEN];
	int rc, err = 0;

	if (access(kernel, R_OK) != 0)
		return 0;
	s = store_prepare(&api->store, "UPDATE ec2_images SET kernel = ?, initrd = ?, max_mem_mib = ? WHERE builtin = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kernel, -1, SQLITE_STATIC);
	if (initrd)
		sqlite3_bind_text(s, 2, initrd, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)max_mem);
	sqlite3_bind_text(s, 4, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -EIO;
	if (sqlite3_changes(api->store.db) == 0) {
		err = image_insert(api, name, desc, kernel, initrd, cmdline, NULL, root_gib, "amazon", key, max_mem,
				   max_vcpus, id);
		if (!err)
			log_info("ec2: registered image %s (%s)", id, name);
	}
	return err;
}

static int bootstrap(struct ec2 *e)
{
	struct api *api = e->api;
	char k[PATH_MAX + 64], i[PATH_MAX + 64], vpc[EC2_ID_LEN], sub[EC2_ID_LEN], az[48], cidr[32];
	sqlite3_stmt *s;
	int err, rc, n;

	if (store_tx_begin(&api->store, true))
		return -EIO;
	snprintf(k, sizeof(k), "%s/tiny/tiny.elf", e->images_dir);
	err = builtin_image(e, "tiny", "haneul-tiny", "haneul's freestanding test guest (images/tiny)", k, NULL,
			    "console=ttyS0", 1, e->tiny_mem_mib, 1);
	snprintf(k, sizeof(k), "%s/linux/vmlinuz", e->images_dir);
	snprintf(i, sizeof(i), "%s/linux/initrd.img", e->images_dir);
	if (!err)
		err = builtin_image(e, "debian-12", "debian-12", "Debian 12 cloud kernel + busybox initramfs (images/linux)",
				    k, access(i, R_OK) == 0 ? i : NULL, "console=ttyS0 panic=-1 reboot=acpi", 2, 0, 0);
	/* The default VPC, one subnet per zone (AWS's default-VPC layout). */
	s = err ? NULL : store_prepare(&api->store, "SELECT count(*) FROM ec2_vpcs");
	if (!err && !s)
		err = -EIO;
	if (s) {
		rc = sqlite3_step(s);
		n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
		sqlite3_finalize(s);
		if (n < 0)
			err = -EIO;
		if (n == 0) {
			int z;

			/* Each haneuld's default VPC is a namespace with a host route
			 * to its CIDR, and two VPCs on one host cannot share a CIDR:
			 * pick 10.N.0.0/16 from the data dir (N in 20..219, not 77,
			 * which the VMM tests use). */
			uint32_t h = netaddr_hash(api->data_dir);
			unsigned oct = 20 + h % 200;
			char vcidr[32];

			if (oct == 77)
				oct = 78;
			snprintf(vcidr, sizeof(vcidr), "10.%u.0.0/16", oct);
			ec2_new_id("vpc-", vpc);
			s = store_prepare(&api->store, "INSERT INTO ec2_vpcs(id, cidr, is_default) VALUES (?, ?, 1)");
			if (!s)
				err = -EIO;
			else {
				sqlite3_bind_text(s, 1, vpc, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 2, vcidr, -1, SQLITE_STATIC);
				if (sqlite3_step(s) != SQLITE_DONE)
					err = -EIO;
				sqlite3_finalize(s);
			}
			for (z = 0; z < N_AZ && !err; z++) {
				ec2_new_id("subnet-", sub);
				snprintf(az, sizeof(az), "%s%c", api->region, az_suffix[z]);
				snprintf(cidr, sizeof(cidr), "10.%u.%d.0/20", oct, z * 16);
				s = store_prepare(&api->store,
						  "INSERT INTO ec2_subnets(id, vpc_id, az, cidr, default_for_az) VALUES (?,?,?,?,1)");
				if (!s) {
					err = -EIO;
					break;
				}
				sqlite3_bind_text(s, 1, sub, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 2, vpc, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 3, az, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 4, cidr, -1, SQLITE_STATIC);
				if (sqlite3_step(s) != SQLITE_DONE)
					err = -EIO;
				sqlite3_finalize(s);
			}
		}
	}
	if (store_tx_end(&api->store, err == 0) && !err)
		err = -EIO;
	return err;
}

static void image_xml(struct api_req *req, sqlite3_stmt *s, const struct ec2_tag *tags, size_t nt)
{
	struct strbuf *b = &req->out;
	const char *builtin = (const char *)sqlite3_column_text(s, 9);
	char when[32];

	api_format_time((time_t)sqlite3_column_int64(s, 10), when);
	sb_puts(b, "<item>");
	xml_elem(b, "imageId", (const char *)sqlite3_column_text(s, 0));
	xml_elemf(b, "imageLocation", "%s/%s", builtin ? "haneul" : req->api->account_id,
		  (const char *)sqlite3_column_text(s, 1));
	xml_elem(b, "imageState", (const char *)sqlite3_column_text(s, 8));
	xml_elem(b, "imageOwnerId", builtin ? "amazon" : req->api->account_id);
	if (builtin)
		xml_elem(b, "imageOwnerAlias", "amazon");
	xml_elem(b, "creationDate", when);
	xml_elem(b, "isPublic", builtin ? "true" : "false");
	xml_elem(b, "architecture", "x86_64");
	xml_elem(b, "imageType", "machine");
	xml_elem(b, "name", (const char *)sqlite3_column_text(s, 1));
	xml_elem(b, "description", (const char *)sqlite3_column_text(s, 2));
	xml_elem(b, "rootDeviceType", "ebs");
	xml_elem(b, "rootDeviceName", "/dev/xvda");
	sb_printf(b, "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><volumeSize>%d</volumeSize>"
		  "<deleteOnTermination>true</deleteOnTermination><volumeType>gp3</volumeType><encrypted>false</encrypted>"
		  "</ebs></item></blockDeviceMapping>", sqlite3_column_int(s, 7));
	xml_elem(b, "virtualizationType", "hvm");
	xml_elem(b, "hypervisor", "xen");
	xml_elem(b, "enaSupport", "true");
	xml_elem(b, "bootMode", "legacy-bios");
	ec2_tags_xml(b, tags, nt);
	sb_puts(b, "</item>");
}

#define IMAGE_COLS "id, name, description, kernel, initrd, cmdline, root_image, root_gib, state, builtin, created"

static int h_describe_images(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	const char **ids = NULL, **owners = NULL;
	size_t nf, ni, no, i, found = 0;
	sqlite3_stmt *s;
	int rc, ret = -1;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "ImageId", &ids, &ni) ||
	    ec2_list(req, "Owner", &owners, &no))
		goto out;
	if (store_tx_begin(st, false)) {
		api_internal(req);
		goto out;
	}
	s = store_prepare(st, "SELECT " IMAGE_COLS " FROM ec2_images ORDER BY created, id");
	if (!s) {
		store_tx_end(st, false);
		api_internal(req);
		goto out;
	}
	sb_puts(&req->out, "<imagesSet>");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);
		const char *state = (const char *)sqlite3_column_text(s, 8);
		bool builtin = sqlite3_column_type(s, 9) != SQLITE_NULL, keep = ni == 0, is_tag;
		struct ec2_tag *tags = NULL;
		size_t nt = 0;

		for (i = 0; i < ni; i++)
			if (strcmp(ids[i], id) == 0) {
				keep = true;
				found++;
			}
		if (keep && no) {
			keep = false;
			for (i = 0; i < no; i++)
				if ((strcmp(owners[i], "self") == 0 && !builtin) ||
				    (strcmp(owners[i], "amazon") == 0 && builtin) ||
				    strcmp(owners[i], builtin ? "amazon" : req->api->account_id) == 0)
					keep = true;
		}
		if (keep && ec2_tags_load(st, id, &tags, &nt))
			keep = false;
		for (i = 0; i < nf && keep; i++) {
			if (!ec2_filter_tags(&f[i], tags, nt, &is_tag))
				keep = false;
			else if (is_tag)
				continue;
			else if (strcmp(f[i].name, "name") == 0)
				keep = ec2_filter_match(&f[i], name);
			else if (strcmp(f[i].name, "image-id") == 0)
				keep = ec2_filter_match(&f[i], id);
			else if (strcmp(f[i].name, "state") == 0)
				keep = ec2_filter_match(&f[i], state);
			else if (strcmp(f[i].name, "owner-alias") == 0)
				keep = builtin && ec2_filter_match(&f[i], "amazon");
			else if (strcmp(f[i].name, "architecture") == 0)
				keep = ec2_filter_match(&f[i], "x86_64");
		}
		if (keep)
			image_xml(req, s, tags, nt);
		ec2_tags_free(tags, nt);
	}
	sb_puts(&req->out, "</imagesSet>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (rc != SQLITE_DONE) {
		api_internal(req);
		goto out;
	}
	if (found < ni) {
		/* AWS names the first id that does not exist. */
		for (i = 0; i < ni; i++) {
			bool seen = strstr(sb_cstr(&req->out), ids[i]) != NULL;

			if (!seen) {
				api_error(req, 400, strncmp(ids[i], "ami-", 4) ? "InvalidAMIID.Malformed" : "InvalidAMIID.NotFound",
					  strncmp(ids[i], "ami-", 4) ? "Invalid id: \"%s\" (expecting \"ami-...\")" :
					  "The image id '[%s]' does not exist", ids[i]);
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(ids);
	free(owners);
	return ret;
}

static int check_file(struct api_req *req, const char *what, const char *path)
{
	struct stat stt;

	if (path[0] != '/' || stat(path, &stt) < 0 || !S_ISREG(stt.st_mode) || access(path, R_OK) < 0)
		return api_error(req, 400, "InvalidParameterValue",
				 "%s '%s' must be the absolute path of a readable file on the haneul host", what, path);
	return 0;
}

/* RegisterImage: haneul has no S3 bundles or snapshots, so the kernel (KernelId
 * or ImageLocation), initramfs (RamdiskId) and optional root image
 * (BlockDeviceMapping.1.Ebs.SnapshotId) are paths on the host. */
static int h_register_image(struct api_req *req)
{
	struct api *api = req->api;
	const char *name = api_param_required(req, "Name");
	const char *kernel = api_param(req, "KernelId"), *initrd = api_param(req, "RamdiskId");
	const char *root = query_list_get(&req->params, "BlockDeviceMapping", 1, "Ebs.SnapshotId");
	const char *rsize = query_list_get(&req->params, "BlockDeviceMapping", 1, "Ebs.VolumeSize");
	char id[EC2_ID_LEN], other[EC2_ID_LEN] = "";
	unsigned root_gib = 1;
	sqlite3_stmt *s;
	struct stat stt;
	int err;

	if (!name)
		return -1;
	if (!kernel)
		kernel = api_param(req, "ImageLocation");
	if (!kernel)
		return api_error(req, 400, "MissingParameter",
				 "haneul needs the kernel: pass KernelId (or ImageLocation) as a path on the host");
	if (strlen(name) < 3 || strlen(name) > 128)
		return api_error(req, 400, "InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long");
	if (check_file(req, "KernelId", kernel) || (initrd && check_file(req, "RamdiskId", initrd)) ||
	    (root && check_file(req, "SnapshotId", root)))
		return -1;
	if (root && stat(root, &stt) == 0)
		root_gib = (unsigned)((stt.st_size + (1ll << 30) - 1) >> 30);
	if (rsize) {
		long v = strtol(rsize, NULL, 10);

		if (v < (long)root_gib || v > 16384)
			return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for VolumeSize", rsize);
		root_gib = (unsigned)v;
	}
	if (!root_gib)
		root_gib = 1;
	if (store_tx_begin(&api->store, true))
		return api_internal(req);
	s = store_prepare(&api->store, "SELECT id FROM ec2_images WHERE name = ?");
	if (s) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(other, sizeof(other), "%s", (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	if (other[0]) {
		store_tx_end(&api->store, false);
		return api_error(req, 400, "InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, other);
	}
	err = !s ? -EIO : image_insert(api, name, api_param(req, "Description"), kernel, initrd,
				       "console=ttyS0 panic=-1 reboot=acpi", root, root_gib, api->account_id, NULL, 0, 0, id);
	if (store_tx_end(&api->store, err == 0) || err)
		return api_internal(req);
	xml_elem(&req->out, "imageId", id);
	return 0;
}

static int h_deregister_image(struct api_req *req)
{
	struct api *api = req->api;
	const char *id = api_param_required(req, "ImageId");
	sqlite3_stmt *s;
	int rc, found = 0, builtin = 0;

	if (!id)
		return -1;
	if (store_tx_begin(&api->store, true))
		return api_internal(req);
	s = store_prepare(&api->store, "SELECT builtin IS NOT NULL FROM ec2_images WHERE id = ?");
	if (!s) {
		store_tx_end(&api->store, false);
		return api_internal(req);
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		found = 1;
		builtin = sqlite3_column_int(s, 0);
	}
	sqlite3_finalize(s);
	if (!found || builtin) {
		store_tx_end(&api->store, false);
		if (builtin)
			return api_error(req, 400, "InvalidAMIID.Unavailable",
					 "The image '%s' is a built-in haneul image and cannot be deregistered", id);
		return not_found(req, id);
	}
	s = store_prepare(&api->store, "DELETE FROM ec2_images WHERE id = ?");
	rc = -1;
	if (s) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	if (rc == SQLITE_DONE) {
		s = store_prepare(&api->store, "DELETE FROM ec2_tags WHERE resource_id = ?");
		if (s) {
			sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			rc = sqlite3_step(s);
			sqlite3_finalize(s);
		}
	}
	if (store_tx_end(&api->store, rc == SQLITE_DONE) || rc != SQLITE_DONE)
		return api_internal(req);
	sb_puts(&req->out, "<return>true</return>");
	return 0;
}

/* ---- VPCs and subnets (the default VPC only) ------------------------------------------ */

static int h_describe_vpcs(struct api_req *req)
{
	struct store *st = &req->api->store;
	sqlite3_stmt *s;

	if (store_tx_begin(st, false))
		return api_internal(req);
	s = store_prepare(st, "SELECT id, cidr, is_default FROM ec2_vpcs ORDER BY id");
	sb_puts(&req->out, "<vpcSet>");
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "vpcId", (const char *)sqlite3_column_text(s, 0));
		xml_elem(&req->out, "ownerId", req->api->account_id);
		xml_elem(&req->out, "state", "available");
		xml_elem(&req->out, "cidrBlock", (const char *)sqlite3_column_text(s, 1));
		xml_elem(&req->out, "instanceTenancy", "default");
		xml_elem(&req->out, "isDefault", sqlite3_column_int(s, 2) ? "true" : "false");
		sb_puts(&req->out, "<tagSet/></item>");
	}
	sb_puts(&req->out, "</vpcSet>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	return s ? 0 : api_internal(req);
}

static int h_describe_subnets(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	size_t nf, i;
	sqlite3_stmt *s;

	if (ec2_filters_parse(req, f, &nf))
		return -1;
	if (store_tx_begin(st, false))
		return api_internal(req);
	s = store_prepare(st, "SELECT id, vpc_id, az, cidr, default_for_az FROM ec2_subnets ORDER BY az");
	sb_puts(&req->out, "<subnetSet>");
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		bool keep = true;

		for (i = 0; i < nf && keep; i++)
			if (strcmp(f[i].name, "availability-zone") == 0)
				keep = ec2_filter_match(&f[i], (const char *)sqlite3_column_text(s, 2));
			else if (strcmp(f[i].name, "vpc-id") == 0)
				keep = ec2_filter_match(&f[i], (const char *)sqlite3_column_text(s, 1));
			else if (strcmp(f[i].name, "subnet-id") == 0)
				keep = ec2_filter_match(&f[i], (const char *)sqlite3_column_text(s, 0));
		if (!keep)
			continue;
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "subnetId", (const char *)sqlite3_column_text(s, 0));
		xml_elem(&req->out, "state", "available");
		xml_elem(&req->out, "vpcId", (const char *)sqlite3_column_text(s, 1));
		xml_elem(&req->out, "cidrBlock", (const char *)sqlite3_column_text(s, 3));
		xml_elem(&req->out, "availableIpAddressCount", "4091");
		xml_elem(&req->out, "availabilityZone", (const char *)sqlite3_column_text(s, 2));
		xml_elem(&req->out, "defaultForAz", sqlite3_column_int(s, 4) ? "true" : "false");
		xml_elem(&req->out, "mapPublicIpOnLaunch", "true");
		xml_elem(&req->out, "ownerId", req->api->account_id);
		sb_puts(&req->out, "<tagSet/></item>");
	}
	sb_puts(&req->out, "</subnetSet>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	return s ? 0 : api_internal(req);
}

/* ---- the service ------------------------------------------------------------------- */

static const struct api_action actions[] = {
	{ "DescribeRegions", h_describe_regions, 0, NULL },
	{ "DescribeAvailabilityZones", h_describe_azs, 0, NULL },
	{ "DescribeInstanceTypes", h_describe_instance_types, 0, NULL },
	{ "DescribeImages", h_describe_images, 0, NULL },
	{ "RegisterImage", h_register_image, 0, NULL },
	{ "DeregisterImage", h_deregister_image, 0, NULL },
	{ "DescribeVpcs", h_describe_vpcs, 0, NULL },
	{ "DescribeSubnets", h_describe_subnets, 0, NULL },
	{ "CreateTags", h_create_tags, 0, NULL },
	{ "DeleteTags", h_delete_tags, 0, NULL },
	{ "DescribeTags", h_describe_tags, 0, NULL },
#define EC2_ACTION(n) { #n, ec2_h_##n, 0, NULL },
	EC2_HANDLERS(EC2_ACTION)
#undef EC2_ACTION
};

const struct api_service ec2_service = {
	.name = "ec2", .prefix = "ec2", .version = "2016-11-15",
	.xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/", .proto = API_PROTO_EC2,
	.actions = actions, .n_actions = sizeof(actions) / sizeof(actions[0]),
};

static int mkdir_p(const char *p)
{
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int ec2_new(struct api *api, const struct ec2_config *cfg)
{
	struct ec2 *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->api = api;
	snprintf(e->vmm, sizeof(e->vmm), "%s", cfg->vmm);
	snprintf(e->images_dir, sizeof(e->images_dir), "%s", cfg->images_dir);
	snprintf(e->run_root, sizeof(e->run_root), "%s/ec2", api->data_dir);
	snprintf(e->vol_root, sizeof(e->vol_root), "%s/ec2/volumes", api->data_dir);
	e->supervise = cfg->supervise;
	e->stop_timeout_s = cfg->stop_timeout_s ? cfg->stop_timeout_s : 30;
	e->tiny_mem_mib = cfg->tiny_mem_mib ? cfg->tiny_mem_mib : 64;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	err = mkdir_p(e->run_root);
	if (!err)
		err = mkdir_p(e->vol_root);
	if (err) {
		log_err("ec2: cannot create %s: %s", e->vol_root, strerror(-err));
		goto fail;
	}
	api->ec2 = e;
	err = bootstrap(e);
	if (err) {
		log_err("ec2: cannot initialise the EC2 tables: %s", strerror(-err));
		goto fail;
	}
	return api_register_service(api, &ec2_service);
fail:
	api->ec2 = NULL;
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
	return err;
}

int ec2_start(struct api *api)
{
	struct ec2 *e = api->ec2;
	int err;

	if (!e || !e->supervise)
		return 0;
	{
		char cidr[32] = "";
		sqlite3_stmt *s;

		if (store_tx_begin(&api->store, false) == 0) {
			s = store_prepare(&api->store, "SELECT cidr FROM ec2_vpcs WHERE is_default = 1");
			if (s && sqlite3_step(s) == SQLITE_ROW)
				snprintf(cidr, sizeof(cidr), "%s", (const char *)sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
			store_tx_end(&api->store, false);
		}
		if (cidr[0])
			ec2_net_new(api->data_dir, cidr, &e->net);
	}
	err = -pthread_create(&e->thread, NULL, ec2_sup_main, e);
	if (!err)
		e->running = true;
	return err;
}

void ec2_free(struct api *api)
{
	struct ec2 *e = api->ec2;

	if (!e)
		return;
	if (e->running) {
		pthread_mutex_lock(&e->mu);
		e->stop = true;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->thread, NULL);
	}
	ec2_net_free(e->net);
	api_register_service(api, &ec2_stub_service);
	api->ec2 = NULL;
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}
