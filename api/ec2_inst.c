/* api/ec2_inst.c - instance actions: RunInstances, Describe*, Start, Stop,
 * Reboot, Terminate, GetConsoleOutput, Modify/DescribeInstanceAttribute.
 *
 * Handlers only record what was asked (state + op) in one transaction and wake
 * the supervisor (ec2_sup.c), which makes the VMM do it and moves the instance
 * on when the VMM really did.  Every illegal transition is refused before
 * anything changes (all the listed instances or none). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/ec2_int.h"
#include "api/vmsup.h"
#include "api/xml.h"
#include "common/log.h"
#include "common/netaddr.h"

#define INST_COLS "seq, id, reservation, image_id, type, state, reason_code, reason_msg, transition, az," \
	" subnet_id, vpc_id, private_ip, public_ip, key_name, client_token, launch_index, shutdown_behavior," \
	" hibernation, hibernated, launch_time, state_time, op, op_time, op_force, starts"

int ec2_inst_load(struct store *st, const char *where, const char *arg, struct ec2_inst **out, size_t *n)
{
	char sql[1024];
	sqlite3_stmt *s;
	struct ec2_inst *v = NULL;
	size_t cnt = 0, cap = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	snprintf(sql, sizeof(sql), "SELECT " INST_COLS " FROM ec2_instances%s%s ORDER BY seq", where ? " WHERE " : "",
		 where ? where : "");
	s = store_prepare(st, sql);
	if (!s)
		return -EIO;
	if (arg)
		sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct ec2_inst *x;

		if (cnt == cap) {
			struct ec2_inst *nv = realloc(v, (cap ? cap * 2 : 8) * sizeof(*v));

			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 8;
		}
		x = &v[cnt++];
		memset(x, 0, sizeof(*x));
		x->seq = sqlite3_column_int64(s, 0);
		store_col_copy(x->id, sizeof(x->id), s, 1);
		store_col_copy(x->reservation, sizeof(x->reservation), s, 2);
		store_col_copy(x->image_id, sizeof(x->image_id), s, 3);
		store_col_copy(x->type, sizeof(x->type), s, 4);
		store_col_copy(x->state, sizeof(x->state), s, 5);
		store_col_copy(x->reason_code, sizeof(x->reason_code), s, 6);
		store_col_copy(x->reason_msg, sizeof(x->reason_msg), s, 7);
		store_col_copy(x->transition, sizeof(x->transition), s, 8);
		store_col_copy(x->az, sizeof(x->az), s, 9);
		store_col_copy(x->subnet_id, sizeof(x->subnet_id), s, 10);
		store_col_copy(x->vpc_id, sizeof(x->vpc_id), s, 11);
		store_col_copy(x->private_ip, sizeof(x->private_ip), s, 12);
		store_col_copy(x->public_ip, sizeof(x->public_ip), s, 13);
		store_col_copy(x->key_name, sizeof(x->key_name), s, 14);
		store_col_copy(x->client_token, sizeof(x->client_token), s, 15);
		x->launch_index = sqlite3_column_int(s, 16);
		store_col_copy(x->shutdown, sizeof(x->shutdown), s, 17);
		x->hibernation = sqlite3_column_int(s, 18) != 0;
		x->hibernated = sqlite3_column_int(s, 19) != 0;
		x->launch_time = sqlite3_column_int64(s, 20);
		x->state_time = sqlite3_column_int64(s, 21);
		store_col_copy(x->op, sizeof(x->op), s, 22);
		x->op_time = sqlite3_column_type(s, 23) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 23);
		x->op_force = sqlite3_column_int(s, 24) != 0;
		x->starts = sqlite3_column_int(s, 25);
	}
	sqlite3_finalize(s);
	for (i = 0; rc == SQLITE_DONE && i < cnt; i++)
		if (ec2_tags_load(st, v[i].id, &v[i].tags, &v[i].n_tags))
			rc = SQLITE_ERROR;
	if (rc != SQLITE_DONE) {
		ec2_inst_free(v, cnt);
		return -EIO;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void ec2_inst_free(struct ec2_inst *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		ec2_tags_free(v[i].tags, v[i].n_tags);
	free(v);
}

/* ---- addresses ------------------------------------------------------------------ */

int ec2_alloc_ip(struct store *st, const char *cidr, const char *col, char out[16])
{
	struct netaddr_cidr c;
	uint32_t *used = NULL, a;
	size_t n = 0, cap = 0;
	char sql[256];
	sqlite3_stmt *s;
	int err;

	if (netaddr_parse_cidr(cidr, &c, NULL))
		return -EINVAL;
	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM ec2_instances WHERE %s IS NOT NULL AND state != 'terminated'"
		 " UNION SELECT public_ip FROM ec2_addresses", col, col);
	s = store_prepare(st, sql);
	if (!s)
		return -EIO;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		if (!t || netaddr_parse_ipv4(t, &a))
			continue;
		if (n == cap) {
			uint32_t *nu = realloc(used, (cap ? cap * 2 : 64) * sizeof(*used));

			if (!nu) {
				sqlite3_finalize(s);
				free(used);
				return -ENOMEM;
			}
			used = nu;
			cap = cap ? cap * 2 : 64;
		}
		used[n++] = a;
	}
	sqlite3_finalize(s);
	if (strcmp(col, "public_ip") == 0) {
		/* Public addresses rotate through the pool (a cursor in meta), so a
		 * stop/start never gets back the address it just gave up. */
		char cur[32] = "";
		uint32_t first = c.net + NETADDR_RESERVED_LOW, last = netaddr_broadcast(&c) - 1, start = first, x;
		uint64_t k, span = (uint64_t)last - first + 1;
		size_t i;

		if (store_meta_get(st, "ec2.public_cursor", cur, sizeof(cur)) == 0 && netaddr_parse_ipv4(cur, &x) == 0 &&
		    x >= first && x < last)
			start = x + 1;
		err = -ENOSPC;
		for (k = 0; k < span && err; k++) {
			x = (uint32_t)(first + ((uint64_t)(start - first) + k) % span);
			for (i = 0; i < n && used[i] != x; i++)
				;
			if (i == n) {
				a = x;
				err = 0;
			}
		}
		if (!err)
			err = store_meta_set(st, "ec2.public_cursor", netaddr_format_ipv4(a, cur));
	} else {
		err = netaddr_alloc_host(&c, used, n, &a);
	}
	free(used);
	if (!err)
		netaddr_format_ipv4(a, out);
	return err;
}

/* The Elastic IP associated with an instance, if any (alloc may be NULL). */
static bool inst_eip(struct store *st, const char *id, char out[16], char *alloc)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT public_ip, allocation_id FROM ec2_addresses WHERE instance_id = ?");
	bool found = false;

	if (!s)
		return false;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(out, 16, "%s", (const char *)sqlite3_column_text(s, 0));
		if (alloc)
			snprintf(alloc, EC2_ID_LEN + 8, "%s", (const char *)sqlite3_column_text(s, 1));
		found = true;
	}
	sqlite3_finalize(s);
	return found;
}

int ec2_inst_set_state(struct ec2 *e, const char *id, const char *from, const char *to, const char *op, bool force,
		       const char *reason_code, const char *reason_msg, time_t now)
{
	struct store *st = &e->api->store;
	char trans[320] = "", when[32], type[32] = "", oldstate[16] = "", ip[16], eip[16];
	char old_code[64] = "", old_msg[256] = "";
	sqlite3_stmt *s;
	int rc, err;
	bool hib_stop = op && strcmp(op, "hibernate") == 0;

	s = store_prepare(st, "SELECT state, type, reason_code, reason_msg FROM ec2_instances WHERE id = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		store_col_copy(oldstate, sizeof(oldstate), s, 0);
		store_col_copy(type, sizeof(type), s, 1);
		store_col_copy(old_code, sizeof(old_code), s, 2);
		store_col_copy(old_msg, sizeof(old_msg), s, 3);
	}
	sqlite3_finalize(s);
	/* No reason given for a stop/terminate step: keep the one the request
	 * that started it recorded (Client.UserInitiatedShutdown ...). */
	if (!reason_code && strcmp(to, "running") && strcmp(to, "pending") && old_code[0]) {
		reason_code = old_code;
		reason_msg = old_msg;
	}
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -EIO;
	if (from && strcmp(from, oldstate) != 0)
		return 0;
	if (reason_msg && strcmp(to, "running") && strcmp(to, "pending")) {
		struct tm tm;
		time_t t = now;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S GMT", &tm);
		snprintf(trans, sizeof(trans), "%s (%s)",
			 strncmp(reason_code ? reason_code : "", "Client.User", 11) == 0 ? "User initiated" :
			 strncmp(reason_code ? reason_code : "", "Server.", 7) == 0 ? "Server initiated" :
			 "Instance initiated", when);
	}
	s = store_prepare(st, "UPDATE ec2_instances SET state = ?, state_time = ?, reason_code = ?, reason_msg = ?,"
			      " transition = ?, op = ?, op_time = NULL, op_force = ? WHERE id = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	if (reason_code)
		sqlite3_bind_text(s, 3, reason_code, -1, SQLITE_STATIC);
	if (reason_msg)
		sqlite3_bind_text(s, 4, reason_msg, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, trans, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, op ? op : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, force);
	sqlite3_bind_text(s, 8, id, -1, SQLITE_STATIC);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	if (err)
		return err;

	/* Billing: running is billed (a minute at least per start); a stop
	 * that hibernates is billed until the memory is saved. */
	if (strcmp(to, "running") == 0 && strcmp(oldstate, "running") != 0)
		err = billing_open(st, id, "instance", type, 1, 60, now);
	else if (strcmp(oldstate, "running") == 0 && !(strcmp(to, "stopping") == 0 && hib_stop))
		err = billing_close(st, id, "instance", now);
	else if (strcmp(oldstate, "stopping") == 0)
		err = billing_close(st, id, "instance", now);
	if (err)
		return err;

	/* Public addresses: a new one from the pool at every start (the Elastic
	 * IP instead when one is associated, kept while stopped), released at
	 * stop; a reboot keeps it since the state never changes.  An Elastic
	 * IP is billed while it is not on a running instance. */
	{
		char alloc[EC2_ID_LEN + 8];
		bool has_eip = inst_eip(st, id, eip, alloc);

		if (strcmp(to, "running") == 0) {
			if (has_eip) {
				err = store_exec(st, "UPDATE ec2_instances SET public_ip = ? WHERE id = ?", eip, id);
				if (!err)
					err = billing_close(st, alloc, "eip", now);
			} else if ((err = ec2_alloc_ip(st, EC2_PUBLIC_POOL, "public_ip", ip)) == 0) {
				err = store_exec(st, "UPDATE ec2_instances SET public_ip = ? WHERE id = ? AND public_ip IS NULL", ip, id);
			}
		} else if (strcmp(oldstate, "running") == 0 && has_eip) {
			err = billing_open(st, alloc, "eip", "eip", 1, 0, now);
		}
		if (!err && strcmp(to, "terminated") == 0 && has_eip)
			err = store_exec(st, "UPDATE ec2_addresses SET instance_id = NULL, association_id = NULL WHERE instance_id = ?",
				    id, NULL);
		if (!err && (strcmp(to, "terminated") == 0 || (strcmp(to, "stopped") == 0 && !has_eip)))
			err = store_exec(st, "UPDATE ec2_instances SET public_ip = NULL WHERE id = ?", id, NULL);
	}
	if (!err && strcmp(to, "terminated") == 0)
		err = ec2_vol_on_terminate(e, id, now);
	return err < 0 ? err : 1;
}

/* ---- XML ---------------------------------------------------------------------- */

static void state_xml(struct strbuf *b, const char *el, const char *state)
{
	sb_printf(b, "<%s><code>%d</code><name>%s</name></%s>", el, ec2_state_code(state), state, el);
}

static void inst_xml(struct api_req *req, const struct ec2_inst *x)
{
	struct strbuf *b = &req->out;
	const struct ec2_type *t = ec2_type_find(x->type);
	char when[32], dns[96];
	unsigned a, bb, c, d;

	api_format_time((time_t)x->launch_time, when);
	sb_puts(b, "<item>");
	xml_elem(b, "instanceId", x->id);
	xml_elem(b, "imageId", x->image_id);
	state_xml(b, "instanceState", x->state);
	if (sscanf(x->private_ip, "%u.%u.%u.%u", &a, &bb, &c, &d) == 4)
		snprintf(dns, sizeof(dns), "ip-%u-%u-%u-%u.%s.compute.internal", a, bb, c, d, req->api->region);
	else
		dns[0] = '\0';
	xml_elem(b, "privateDnsName", strcmp(x->state, "terminated") ? dns : "");
	if (x->public_ip[0] && sscanf(x->public_ip, "%u.%u.%u.%u", &a, &bb, &c, &d) == 4)
		xml_elemf(b, "dnsName", "ec2-%u-%u-%u-%u.%s.compute.haneul", a, bb, c, d, req->api->region);
	else
		xml_elem(b, "dnsName", "");
	xml_elem(b, "reason", x->transition);
	if (x->key_name[0])
		xml_elem(b, "keyName", x->key_name);
	xml_elemf(b, "amiLaunchIndex", "%d", x->launch_index);
	sb_puts(b, "<productCodes/>");
	xml_elem(b, "instanceType", x->type);
	xml_elem(b, "launchTime", when);
	sb_puts(b, "<placement>");
	xml_elem(b, "availabilityZone", x->az);
	sb_puts(b, "<groupName/><tenancy>default</tenancy></placement>");
	sb_puts(b, "<monitoring><state>disabled</state></monitoring>");
	if (strcmp(x->state, "terminated")) {
		xml_elem(b, "subnetId", x->subnet_id);
		xml_elem(b, "vpcId", x->vpc_id);
		xml_elem(b, "privateIpAddress", x->private_ip);
	}
	if (x->public_ip[0])
		xml_elem(b, "ipAddress", x->public_ip);
	sb_puts(b, "<sourceDestCheck>true</sourceDestCheck><groupSet/>");
	if (x->reason_code[0]) {
		sb_puts(b, "<stateReason>");
		xml_elem(b, "code", x->reason_code);
		xml_elem(b, "message", x->reason_msg);
		sb_puts(b, "</stateReason>");
	}
	sb_puts(b, "<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>"
		"<rootDeviceName>/dev/xvda</rootDeviceName>");
	ec2_vol_bdm_xml(&req->api->store, x->id, b);
	sb_puts(b, "<virtualizationType>hvm</virtualizationType>");
	if (x->client_token[0])
		xml_elem(b, "clientToken", x->client_token);
	ec2_tags_xml(b, x->tags, x->n_tags);
	sb_puts(b, "<hypervisor>xen</hypervisor><networkInterfaceSet/><ebsOptimized>false</ebsOptimized>");
	if (t)
		sb_printf(b, "<cpuOptions><coreCount>%u</coreCount><threadsPerCore>1</threadsPerCore></cpuOptions>", t->vcpus);
	sb_printf(b, "<hibernationOptions><configured>%s</configured></hibernationOptions>",
		  x->hibernation ? "true" : "false");
	sb_puts(b, "<bootMode>legacy-bios</bootMode></item>");
}

/* Reservations: consecutive instances of one reservation share an item. */
static void reservations_xml(struct api_req *req, const struct ec2_inst *v, const bool *keep, size_t n)
{
	size_t i;
	const char *cur = NULL;

	for (i = 0; i < n; i++) {
		if (keep && !keep[i])
			continue;
		if (!cur || strcmp(cur, v[i].reservation)) {
			if (cur)
				sb_puts(&req->out, "</instancesSet></item>");
			cur = v[i].reservation;
			sb_puts(&req->out, "<item>");
			xml_elem(&req->out, "reservationId", cur);
			xml_elem(&req->out, "ownerId", req->api->account_id);
			sb_puts(&req->out, "<groupSet/><instancesSet>");
		}
		inst_xml(req, &v[i]);
	}
	if (cur)
		sb_puts(&req->out, "</instancesSet></item>");
}

/* ---- RunInstances ---------------------------------------------------------------- */

struct image_row {
	char id[EC2_ID_LEN];
	char root[PATH_MAX];
	unsigned root_gib;
	bool found;
};

static int image_get(struct store *st, const char *id, struct image_row *im)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT root_image, root_gib FROM ec2_images WHERE id = ? AND state = 'available'");
	int rc;

	memset(im, 0, sizeof(*im));
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		im->found = true;
		snprintf(im->id, sizeof(im->id), "%s", id);
		store_col_copy(im->root, sizeof(im->root), s, 0);
		im->root_gib = (unsigned)sqlite3_column_int(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static int count_live(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT count(*) FROM ec2_instances WHERE state != 'terminated'");
	int n = -1;

	if (s && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

struct subnet_row {
	char id[EC2_ID_LEN + 8], vpc[EC2_ID_LEN], az[40], cidr[24];
};

static int subnet_find(struct store *st, const char *subnet_id, const char *az, struct subnet_row *out)
{
	sqlite3_stmt *s = store_prepare(st, subnet_id ?
		"SELECT id, vpc_id, az, cidr FROM ec2_subnets WHERE id = ?" :
		"SELECT id, vpc_id, az, cidr FROM ec2_subnets WHERE az = ? AND default_for_az = 1");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, subnet_id ? subnet_id : az, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		store_col_copy(out->id, sizeof(out->id), s, 0);
		store_col_copy(out->vpc, sizeof(out->vpc), s, 1);
		store_col_copy(out->az, sizeof(out->az), s, 2);
		store_col_copy(out->cidr, sizeof(out->cidr), s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static bool truthy(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

static int parse_count(struct api_req *req, const char *name, long *out)
{
	const char *v = api_param(req, name);
	char *end;

	if (!v)
		return api_error(req, 400, "MissingParameter", "The request must contain the parameter %s", name);
	*out = strtol(v, &end, 10);
	if (*end || *out < 1 || *out > 1000)
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for %s", v, name);
	return 0;
}

/* The root volume from BlockDeviceMapping (the entry for /dev/xvda or /dev/sda1). */
struct root_bdm {
	unsigned size_gib;
	const char *type;
	bool delete_on_term;
};

static int parse_root_bdm(struct api_req *req, unsigned image_gib, struct root_bdm *r)
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, "BlockDeviceMapping", &idx), i;

	r->size_gib = image_gib ? image_gib : 1;
	r->type = "gp3";
	r->delete_on_term = true;
	for (i = 0; i < n; i++) {
		const char *dev = query_list_get(&req->params, "BlockDeviceMapping", idx[i], "DeviceName");
		const char *sz = query_list_get(&req->params, "BlockDeviceMapping", idx[i], "Ebs.VolumeSize");
		const char *vt = query_list_get(&req->params, "BlockDeviceMapping", idx[i], "Ebs.VolumeType");
		const char *dot = query_list_get(&req->params, "BlockDeviceMapping", idx[i], "Ebs.DeleteOnTermination");

		if (!dev || (strcmp(dev, "/dev/xvda") && strcmp(dev, "/dev/sda1"))) {
			free(idx);
			return api_error(req, 400, "InvalidBlockDeviceMapping",
					 "haneul launches with the root device /dev/xvda only; attach data volumes with AttachVolume");
		}
		if (sz) {
			char *end;
			long v = strtol(sz, &end, 10);

			if (*end || v < (long)r->size_gib || v > 16384) {
				free(idx);
				return api_error(req, 400, "InvalidBlockDeviceMapping",
						 "Volume of size %sGB is smaller than snapshot, expect size >= %uGB", sz, r->size_gib);
			}
			r->size_gib = (unsigned)v;
		}
		if (vt) {
			if (!ec2_voltype_price(vt)) {
				free(idx);
				return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for VolumeType", vt);
			}
			r->type = vt;
		}
		if (dot)
			r->delete_on_term = truthy(dot);
	}
	free(idx);
	return 0;
}

static int set_vol_attached(struct store *st, const char *vol, const char *inst, bool dot, time_t now)
{
	sqlite3_stmt *s = store_prepare(st, "UPDATE ec2_volumes SET state = 'in-use', instance_id = ?, device = '/dev/xvda',"
				     " attach_time = ?, attach_state = 'attached', delete_on_termination = ? WHERE id = ?");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	sqlite3_bind_int(s, 3, dot);
	sqlite3_bind_text(s, 4, vol, -1, SQLITE_STATIC);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

int ec2_user_data_check(const char *b64, size_t *decoded)
{
	size_t n = 0, pad = 0;

	*decoded = 0;
	for (; b64[n]; n++) {
		char c = b64[n];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			     c == '+' || c == '/'))
			return -EINVAL; /* '=' only at the end */
	}
	if (pad > 2 || (pad && n % 4) || (n - pad) % 4 == 1)
		return -EINVAL;
	*decoded = (n - pad) / 4 * 3 + ((n - pad) % 4 ? (n - pad) % 4 - 1 : 0);
	return *decoded > EC2_USER_DATA_MAX ? -E2BIG : 0;
}

int ec2_h_RunInstances(struct api_req *req)
{
	struct api *api = req->api;
	struct ec2 *e = api->ec2;
	struct store *st = &api->store;
	const char *image = api_param_required(req, "ImageId");
	const char *type = api_param(req, "InstanceType");
	const char *az = api_param(req, "Placement.AvailabilityZone");
	const char *subnet = api_param(req, "SubnetId");
	const char *token = api_param(req, "ClientToken");
	const char *sdb = api_param(req, "InstanceInitiatedShutdownBehavior");
	const char *ud = api_param(req, "UserData");
	bool hib = truthy(api_param(req, "HibernationOptions.Configured"));
	const struct ec2_type *t;
	struct image_row im;
	struct subnet_row sn;
	struct root_bdm rb;
	struct ec2_inst *v = NULL;
	char rid[EC2_ID_LEN], (*vols)[EC2_ID_LEN] = NULL;
	size_t nv = 0, i;
	long minc, maxc, cnt;
	int live, err = 0, ret = -1, made = 0;
	time_t now = api->now();

	if (!image || parse_count(req, "MinCount", &minc) || parse_count(req, "MaxCount", &maxc))
		return -1;
	if (minc > maxc)
		return api_error(req, 400, "InvalidParameterValue",
				 "MinCount (%ld) must be less than or equal to MaxCount (%ld)", minc, maxc);
	if (!type)
		type = "t3.micro";
	t = ec2_type_find(type);
	if (!t)
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", type);
	if (strncmp(image, "ami-", 4) != 0)
		return api_error(req, 400, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", image);
	if (sdb && strcmp(sdb, "stop") && strcmp(sdb, "terminate"))
		return api_error(req, 400, "InvalidParameterValue",
				 "Invalid value '%s' for InstanceInitiatedShutdownBehavior", sdb);
	if (az && !ec2_az_valid(api, az))
		return api_error(req, 400, "InvalidParameterValue", "Invalid availability zone: [%s]", az);
	if (ud && !*ud)
		ud = NULL;
	if (ud) {
		size_t udn;
		int r = ec2_user_data_check(ud, &udn);

		/* EC2's messages; haneul's limit is smaller than EC2's 16 KiB
		 * (it travels on the kernel command line, docs/ec2.md). */
		if (r == -E2BIG)
			return api_error(req, 400, "InvalidParameterValue", "User data is limited to %d bytes",
					 EC2_USER_DATA_MAX);
		if (r)
			return api_error(req, 400, "InvalidParameterValue", "Invalid BASE64 encoding of user data.");
	}
	if (token && strlen(token) > 64)
		return api_error(req, 400, "InvalidParameterValue", "ClientToken is at most 64 characters");
	if (ec2_tag_specs_check(req))
		return -1;

	if (store_tx_begin(st, true))
		return api_internal(req);
	/* Idempotency: the same ClientToken answers the first launch again. */
	if (token && *token) {
		err = ec2_inst_load(st, "client_token = ?", token, &v, &nv);
		if (err)
			goto fail_tx;
		if (nv) {
			store_tx_end(st, false);
			goto answer;
		}
	}
	err = image_get(st, image, &im);
	if (err)
		goto fail_tx;
	if (!im.found) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", image);
	}
	if (parse_root_bdm(req, im.root_gib, &rb))
		goto fail_tx_quiet;
	if (hib && (uint64_t)rb.size_gib * 1024 < t->mem_mib) {
		store_tx_end(st, false);
		return api_error(req, 400, "UnsupportedHibernationConfiguration",
				 "The root volume (%u GiB) is too small to hold the memory of a %s instance (%u MiB) "
				 "for hibernation", rb.size_gib, t->name, t->mem_mib);
	}
	err = subnet_find(st, subnet, az ? az : NULL, &sn);
	if (err == -ENOENT && !subnet && !az) {
		char def[48];

		snprintf(def, sizeof(def), "%sa", api->region);
		err = subnet_find(st, NULL, def, &sn);
	}
	if (err == -ENOENT) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist",
				 subnet ? subnet : "");
	}
	if (err)
		goto fail_tx;
	if (az && strcmp(az, sn.az)) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidParameterValue",
				 "Subnet %s is in %s, not in the requested availability zone %s", sn.id, sn.az, az);
	}
	live = count_live(st);
	if (live < 0) {
		err = -EIO;
		goto fail_tx;
	}
	cnt = maxc;
	if (live + cnt > EC2_MAX_INSTANCES)
		cnt = EC2_MAX_INSTANCES - live;
	if (cnt < minc) {
		store_tx_end(st, false);
		return api_error(req, 400, "InstanceLimitExceeded",
				 "You have requested more instances (%ld) than your current instance limit of %d allows "
				 "for the specified instance type.", minc, EC2_MAX_INSTANCES - live);
	}
	vols = calloc((size_t)cnt, sizeof(*vols));
	if (!vols) {
		err = -ENOMEM;
		goto fail_tx;
	}
	ec2_new_id("r-", rid);
	for (i = 0; i < (size_t)cnt && !err; i++) {
		char id[EC2_ID_LEN], ip[16];
		sqlite3_stmt *s;

		ec2_new_id("i-", id);
		err = ec2_alloc_ip(st, sn.cidr, "private_ip", ip);
		if (err)
			break;
		s = store_prepare(st,
			"INSERT INTO ec2_instances(id, reservation, image_id, type, state, reason_code, reason_msg, az,"
			" subnet_id, vpc_id, private_ip, user_data, key_name, client_token, launch_index,"
			" shutdown_behavior, hibernation, launch_time, state_time)"
			" VALUES (?,?,?,?,'pending','pending','pending',?,?,?,?,?,?,?,?,?,?,?,?)");
		if (!s) {
			err = -EIO;
			break;
		}
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, rid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, image, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, sn.az, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, sn.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, sn.vpc, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, ip, -1, SQLITE_STATIC);
		if (ud)
			sqlite3_bind_text(s, 9, ud, -1, SQLITE_STATIC);
		if (api_param(req, "KeyName"))
			sqlite3_bind_text(s, 10, api_param(req, "KeyName"), -1, SQLITE_STATIC);
		if (token && *token)
			sqlite3_bind_text(s, 11, token, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 12, (int)i);
		sqlite3_bind_text(s, 13, sdb ? sdb : "stop", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 14, hib);
		sqlite3_bind_int64(s, 15, (sqlite3_int64)now);
		sqlite3_bind_int64(s, 16, (sqlite3_int64)now);
		err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(s);
		if (!err) {
			ec2_new_id("vol-", vols[i]);
			err = ec2_vol_create(e, vols[i], rb.size_gib, rb.type, sn.az, im.root[0] ? im.root : NULL, now);
			if (!err)
				made++;
		}
		if (!err)
			err = set_vol_attached(st, vols[i], id, rb.delete_on_term, now);
		if (!err)
			err = ec2_tag_specs_apply(req, "instance", id);
		if (!err)
			err = ec2_tag_specs_apply(req, "volume", vols[i]);
	}
	if (err == -ENOSPC) {
		store_tx_end(st, false);
		api_error(req, 400, "InsufficientFreeAddressesInSubnet",
			  "The specified subnet does not have enough free addresses to satisfy the request.");
		goto cleanup;
	}
	if (err)
		goto fail_tx;
	err = ec2_inst_load(st, "reservation = ?", rid, &v, &nv);
	if (err)
		goto fail_tx;
	if (store_tx_end(st, true)) {
		err = -EIO;
		goto cleanup_internal;
	}
	log_info("ec2: RunInstances %s: %zu x %s of %s in %s", rid, nv, t->name, image, sn.az);
	ec2_kick(e);
answer:
	if (store_tx_begin(st, false)) {
		ret = api_internal(req);
		goto out;
	}
	xml_elem(&req->out, "reservationId", v[0].reservation);
	xml_elem(&req->out, "ownerId", api->account_id);
	sb_puts(&req->out, "<groupSet/><instancesSet>");
	for (i = 0; i < nv; i++)
		inst_xml(req, &v[i]);
	sb_puts(&req->out, "</instancesSet>");
	store_tx_end(st, false);
	ret = 0;
	goto out;
fail_tx:
	store_tx_end(st, false);
	log_err("ec2: RunInstances failed: %s", strerror(-err));
cleanup_internal:
	api_internal(req);
cleanup:
	for (i = 0; vols && i < (size_t)made; i++) {
		char p[PATH_MAX + 64];

		ec2_vol_path(e, vols[i], p, sizeof(p));
		unlink(p);
	}
	goto out;
fail_tx_quiet:
	store_tx_end(st, false);
out:
	free(vols);
	ec2_inst_free(v, nv);
	return ret;
}

/* ---- DescribeInstances / DescribeInstanceStatus -------------------------------------- */

static int check_ids_exist(struct api_req *req, const char **ids, size_t nids, const struct ec2_inst *v, size_t n)
{
	struct strbuf missing = STRBUF_INIT;
	size_t i, j, cnt = 0;
	int ret = 0;

	for (i = 0; i < nids; i++) {
		bool found = false;

		if (strncmp(ids[i], "i-", 2) != 0) {
			sb_free(&missing);
			return api_error(req, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", ids[i]);
		}
		for (j = 0; j < n && !found; j++)
			found = strcmp(ids[i], v[j].id) == 0;
		if (!found) {
			sb_printf(&missing, "%s%s", cnt ? ", " : "", ids[i]);
			cnt++;
		}
	}
	if (cnt == 1)
		ret = api_error(req, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
				sb_cstr(&missing));
	else if (cnt > 1)
		ret = api_error(req, 400, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist",
				sb_cstr(&missing));
	sb_free(&missing);
	return ret;
}

static bool id_listed(const char **ids, size_t n, const char *id)
{
	size_t i;

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/* Applies filters to x; -1 after an error (unknown filter), else 0/1. */
static int inst_filter(struct api_req *req, const struct ec2_filter *f, size_t nf, const struct ec2_inst *x)
{
	char code[8], idx[12];
	size_t i;

	snprintf(code, sizeof(code), "%d", ec2_state_code(x->state));
	snprintf(idx, sizeof(idx), "%d", x->launch_index);
	for (i = 0; i < nf; i++) {
		const char *n = f[i].name, *val;
		bool is_tag;

		if (!ec2_filter_tags(&f[i], x->tags, x->n_tags, &is_tag))
			return 0;
		if (is_tag)
			continue;
		val = !strcmp(n, "instance-id") ? x->id :
		      !strcmp(n, "instance-state-name") ? x->state :
		      !strcmp(n, "instance-state-code") ? code :
		      !strcmp(n, "instance-type") ? x->type :
		      !strcmp(n, "availability-zone") ? x->az :
		      !strcmp(n, "image-id") ? x->image_id :
		      !strcmp(n, "reservation-id") ? x->reservation :
		      !strcmp(n, "private-ip-address") ? x->private_ip :
		      !strcmp(n, "ip-address") ? x->public_ip :
		      !strcmp(n, "subnet-id") ? x->subnet_id :
		      !strcmp(n, "vpc-id") ? x->vpc_id :
		      !strcmp(n, "key-name") ? x->key_name :
		      !strcmp(n, "launch-index") ? idx :
		      !strcmp(n, "client-token") ? x->client_token :
		      !strcmp(n, "hibernation-options.configured") ? (x->hibernation ? "true" : "false") :
		      !strcmp(n, "instance-lifecycle") ? "" :
		      NULL;
		if (!val)
			return api_error(req, 400, "InvalidParameterValue", "The filter '%s' is invalid", n);
		if (!ec2_filter_match(&f[i], val))
			return 0;
	}
	return 1;
}

int ec2_h_DescribeInstances(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	struct ec2_inst *v = NULL;
	const char **ids = NULL;
	bool *keep = NULL;
	size_t nf, nids, n = 0, i;
	int max, count = 0, ret = -1, m;
	int64_t after, last = 0;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "InstanceId", &ids, &nids) || ec2_page(req, 5, &max, &after))
		goto out;
	if (store_tx_begin(st, false)) {
		api_internal(req);
		goto out;
	}
	if (ec2_inst_load(st, NULL, NULL, &v, &n)) {
		store_tx_end(st, false);
		api_internal(req);
		goto out;
	}
	if (check_ids_exist(req, ids, nids, v, n)) {
		store_tx_end(st, false);
		goto out;
	}
	keep = calloc(n + 1, sizeof(*keep));
	if (!keep) {
		store_tx_end(st, false);
		api_internal(req);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (v[i].seq <= after || !id_listed(ids, nids, v[i].id))
			continue;
		m = inst_filter(req, f, nf, &v[i]);
		if (m < 0) {
			store_tx_end(st, false);
			goto out;
		}
		if (!m)
			continue;
		if (count == max) {
			break;
		}
		keep[i] = true;
		last = v[i].seq;
		count++;
	}
	sb_puts(&req->out, "<reservationSet>");
	reservations_xml(req, v, keep, n);
	sb_puts(&req->out, "</reservationSet>");
	if (i < n && count == max)
		sb_printf(&req->out, "<nextToken>hn1-%lld</nextToken>", (long long)last);
	store_tx_end(st, false);
	ret = 0;
out:
	free(keep);
	free(ids);
	ec2_inst_free(v, n);
	return ret;
}

static void status_xml(struct strbuf *b, const char *el, bool ok, bool applicable)
{
	const char *s = !applicable ? "not-applicable" : ok ? "ok" : "impaired";

	sb_printf(b, "<%s><status>%s</status><details><item><name>reachability</name><status>%s</status></item>"
		  "</details></%s>", el, s, !applicable ? "not-applicable" : ok ? "passed" : "failed", el);
}

int ec2_h_DescribeInstanceStatus(struct api_req *req)
{
	struct ec2 *e = req->api->ec2;
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	struct ec2_inst *v = NULL;
	const char **ids = NULL;
	bool all = truthy(api_param(req, "IncludeAllInstances"));
	size_t nf, nids, n = 0, i;
	int max, count = 0, ret = -1;
	int64_t after;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "InstanceId", &ids, &nids) || ec2_page(req, 5, &max, &after))
		goto out;
	if (store_tx_begin(st, false)) {
		api_internal(req);
		goto out;
	}
	if (ec2_inst_load(st, NULL, NULL, &v, &n)) {
		store_tx_end(st, false);
		api_internal(req);
		goto out;
	}
	store_tx_end(st, false);
	if (check_ids_exist(req, ids, nids, v, n))
		goto out;
	sb_puts(&req->out, "<instanceStatusSet>");
	for (i = 0; i < n; i++) {
		bool running = strcmp(v[i].state, "running") == 0, ok = false;
		size_t j;
		bool keep = true;

		if (v[i].seq <= after || !id_listed(ids, nids, v[i].id) || (!all && !running))
			continue;
		for (j = 0; j < nf && keep; j++)
			if (!strcmp(f[j].name, "instance-state-name"))
				keep = ec2_filter_match(&f[j], v[i].state);
			else if (!strcmp(f[j].name, "availability-zone"))
				keep = ec2_filter_match(&f[j], v[i].az);
		if (!keep)
			continue;
		if (count == max) {
			sb_puts(&req->out, "</instanceStatusSet>");
			sb_printf(&req->out, "<nextToken>hn1-%lld</nextToken>", (long long)v[i - 1].seq);
			ret = 0;
			goto out;
		}
		count++;
		if (running) {
			struct vmsup_probe p;
			char dir[PATH_MAX + 64];

			ec2_run_dir(e, v[i].id, dir, sizeof(dir));
			ok = vmsup_probe(dir, &p) == 0 && p.state == VMSUP_ALIVE;
		}
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "instanceId", v[i].id);
		xml_elem(&req->out, "availabilityZone", v[i].az);
		state_xml(&req->out, "instanceState", v[i].state);
		status_xml(&req->out, "systemStatus", ok, running);
		status_xml(&req->out, "instanceStatus", ok, running);
		sb_puts(&req->out, "</item>");
	}
	sb_puts(&req->out, "</instanceStatusSet>");
	ret = 0;
out:
	free(ids);
	ec2_inst_free(v, n);
	return ret;
}

/* ---- Start / Stop / Terminate ------------------------------------------------------ */

enum change { CH_START, CH_STOP, CH_TERMINATE };


/* The InstanceId.N list of a state-changing or status call, and every
 * instance, read in a transaction (a write one when `write`) that stays open
 * on success for the caller to end.  Returns 0, or -1 with the error reply
 * written and no transaction open; *ids is the caller's to free either way. */
static int ids_and_instances(struct api_req *req, bool write, const char ***ids,
			     size_t *nids, struct ec2_inst **v, size_t *n)
{
	struct store *st = &req->api->store;

	if (ec2_list(req, "InstanceId", ids, nids))
		return -1;
	if (!*nids) {
		api_error(req, 400, "MissingParameter", "The request must contain the parameter InstanceId");
		return -1;
	}
	if (store_tx_begin(st, write)) {
		api_internal(req);
		return -1;
	}
	if (ec2_inst_load(st, NULL, NULL, v, n)) {
		store_tx_end(st, false);
		api_internal(req);
		return -1;
	}
	return 0;
}
static int change_states(struct api_req *req, enum change ch)
{
	struct api *api = req->api;
	struct ec2 *e = api->ec2;
	struct store *st = &api->store;
	struct ec2_inst *v = NULL;
	const char **ids = NULL;
	char (*prev)[16] = NULL;
	bool hib = ch == CH_STOP && truthy(api_param(req, "Hibernate"));
	bool force = ch == CH_STOP && truthy(api_param(req, "Force"));
	size_t nids, n = 0, i, j;
	int ret = -1, err = 0;
	time_t now = api->now();

	if (ids_and_instances(req, true, &ids, &nids, &v, &n))
		goto out;
	if (check_ids_exist(req, ids, nids, v, n))
		goto fail;
	prev = calloc(nids, sizeof(*prev));
	if (!prev) {
		api_internal(req);
		goto fail;
	}
	/* First refuse anything illegal, so that nothing changes then. */
	for (i = 0; i < nids; i++) {
		struct ec2_inst *x = NULL;

		for (j = 0; j < n; j++)
			if (strcmp(v[j].id, ids[i]) == 0)
				x = &v[j];
		snprintf(prev[i], sizeof(prev[i]), "%s", x->state);
		if (ch == CH_START && (!strcmp(x->state, "stopping") || !strcmp(x->state, "shutting-down") ||
				       !strcmp(x->state, "terminated"))) {
			api_error(req, 400, "IncorrectInstanceState",
				  "The instance '%s' is not in a state from which it can be started.", x->id);
			goto fail;
		}
		if (ch == CH_STOP && (!strcmp(x->state, "pending") || !strcmp(x->state, "shutting-down") ||
				      !strcmp(x->state, "terminated"))) {
			api_error(req, 400, "IncorrectInstanceState",
				  "This instance '%s' is not in a state from which it can be stopped.", x->id);
			goto fail;
		}
		if (hib && !strcmp(x->state, "running")) {
			const struct ec2_type *t = ec2_type_find(x->type);
			int root = ec2_vol_root_gib(st, x->id);

			if (!x->hibernation) {
				api_error(req, 400, "UnsupportedHibernationConfiguration",
					  "Hibernation is not configured for instance '%s': it must be launched with "
					  "HibernationOptions Configured=true", x->id);
				goto fail;
			}
			if (root <= 0 || !t || (uint64_t)root * 1024 < t->mem_mib) {
				api_error(req, 400, "UnsupportedHibernationConfiguration",
					  "The root volume of instance '%s' (%d GiB) is smaller than its memory (%u MiB)",
					  x->id, root, t ? t->mem_mib : 0);
				goto fail;
			}
		}
	}
	for (i = 0; i < nids && err >= 0; i++) {
		const char *s = prev[i], *id = ids[i];

		if (ch == CH_START && !strcmp(s, "stopped")) {
			err = ec2_inst_set_state(e, id, "stopped", "pending", NULL, false, "pending", "pending", now);
			if (err >= 0)
				err = store_exec(st, "UPDATE ec2_instances SET starts = starts + 1 WHERE id = ?", id, NULL);
		} else if (ch == CH_STOP && !strcmp(s, "running")) {
			err = ec2_inst_set_state(e, id, "running", "stopping", hib ? "hibernate" : "stop", force,
						 hib ? "Client.UserInitiatedHibernate" : "Client.UserInitiatedShutdown",
						 hib ? "Client.UserInitiatedHibernate: User initiated hibernate" :
						 "Client.UserInitiatedShutdown: User initiated shutdown", now);
		} else if (ch == CH_STOP && !strcmp(s, "stopping") && force) {
			/* Force on a stop in progress: kill it now. */
			err = store_exec(st, "UPDATE ec2_instances SET op_force = 1, op_time = NULL, op = 'stop' WHERE id = ?",
				    id, NULL);
		} else if (ch == CH_TERMINATE && !strcmp(s, "stopped")) {
			err = ec2_inst_set_state(e, id, "stopped", "terminated", NULL, false,
						 "Client.UserInitiatedShutdown",
						 "Client.UserInitiatedShutdown: User initiated shutdown", now);
		} else if (ch == CH_TERMINATE && (!strcmp(s, "pending") || !strcmp(s, "running") ||
						  !strcmp(s, "stopping"))) {
			err = ec2_inst_set_state(e, id, NULL, "shutting-down", "terminate", !strcmp(s, "pending"),
						 "Client.UserInitiatedShutdown",
						 "Client.UserInitiatedShutdown: User initiated shutdown", now);
		}
	}
	if (err < 0) {
		api_internal(req);
		goto fail;
	}
	sb_puts(&req->out, "<instancesSet>");
	for (i = 0; i < nids; i++) {
		sqlite3_stmt *s = store_prepare(st, "SELECT state FROM ec2_instances WHERE id = ?");
		char cur[16] = "";

		if (s) {
			sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				store_col_copy(cur, sizeof(cur), s, 0);
			sqlite3_finalize(s);
		}
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "instanceId", ids[i]);
		state_xml(&req->out, "currentState", cur);
		state_xml(&req->out, "previousState", prev[i]);
		sb_puts(&req->out, "</item>");
	}
	sb_puts(&req->out, "</instancesSet>");
	if (store_tx_end(st, true)) {
		api_internal(req);
		goto out;
	}
	ec2_kick(e);
	ret = 0;
	goto out;
fail:
	store_tx_end(st, false);
out:
	free(prev);
	free(ids);
	ec2_inst_free(v, n);
	return ret;
}

int ec2_h_StartInstances(struct api_req *req)
{
	return change_states(req, CH_START);
}

int ec2_h_StopInstances(struct api_req *req)
{
	return change_states(req, CH_STOP);
}

int ec2_h_TerminateInstances(struct api_req *req)
{
	return change_states(req, CH_TERMINATE);
}

/* ---- Reboot, console, attributes ---------------------------------------------------- */

static int load_one(struct api_req *req, const char *id, struct ec2_inst **v, size_t *n)
{
	struct store *st = &req->api->store;
	int err;

	if (strncmp(id, "i-", 2) != 0)
		return api_error(req, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id);
	if (store_tx_begin(st, false))
		return api_internal(req);
	err = ec2_inst_load(st, "id = ?", id, v, n);
	store_tx_end(st, false);
	if (err)
		return api_internal(req);
	if (!*n)
		return api_error(req, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id);
	return 0;
}

int ec2_h_RebootInstances(struct api_req *req)
{
	struct ec2 *e = req->api->ec2;
	struct store *st = &req->api->store;
	struct ec2_inst *v = NULL;
	const char **ids = NULL;
	size_t nids, n = 0, i, j;
	int ret = -1;

	if (ids_and_instances(req, false, &ids, &nids, &v, &n))
		goto out;
	store_tx_end(st, false);
	if (check_ids_exist(req, ids, nids, v, n))
		goto out;
	for (i = 0; i < nids; i++)
		for (j = 0; j < n; j++)
			if (!strcmp(v[j].id, ids[i]) && strcmp(v[j].state, "running")) {
				api_error(req, 400, "IncorrectInstanceState",
					  "The instance '%s' is not in a state from which it can be rebooted.", v[j].id);
				goto out;
			}
	for (i = 0; i < nids; i++) {
		struct json_object *r = NULL;
		char dir[PATH_MAX + 64];
		int err;

		ec2_run_dir(e, ids[i], dir, sizeof(dir));
		err = vmsup_ctl(dir, "{\"cmd\":\"reboot\"}", 5000, &r);
		if (err)
			log_warn("ec2: reboot %s: control socket: %s", ids[i], strerror(-err));
		json_object_put(r);
	}
	sb_puts(&req->out, "<return>true</return>");
	ret = 0;
out:
	free(ids);
	ec2_inst_free(v, n);
	return ret;
}

int ec2_h_GetConsoleOutput(struct api_req *req)
{
	struct ec2 *e = req->api->ec2;
	const char *id = api_param_required(req, "InstanceId");
	struct ec2_inst *v = NULL;
	struct strbuf b64 = STRBUF_INIT;
	char dir[PATH_MAX + 64], when[32];
	size_t n = 0, total = 0;
	int ret = -1;

	if (!id || load_one(req, id, &v, &n))
		goto out;
	ec2_run_dir(e, id, dir, sizeof(dir));
	if (vmsup_console_b64(dir, EC2_CONSOLE_MAX, &b64, &total)) {
		api_internal(req);
		goto out;
	}
	api_format_time(req->api->now(), when);
	xml_elem(&req->out, "instanceId", id);
	xml_elem(&req->out, "timestamp", when);
	if (total)
		xml_elem(&req->out, "output", sb_cstr(&b64));
	ret = 0;
out:
	sb_free(&b64);
	ec2_inst_free(v, n);
	return ret;
}

int ec2_h_ModifyInstanceAttribute(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *id = api_param_required(req, "InstanceId");
	const char *attr = api_param(req, "Attribute"), *val = api_param(req, "Value");
	const char *type = api_param(req, "InstanceType.Value");
	const char *sdb = api_param(req, "InstanceInitiatedShutdownBehavior.Value");
	struct ec2_inst *v = NULL;
	size_t n = 0;
	int ret = -1, err;

	if (!id)
		return -1;
	if (attr && val) {
		if (!strcmp(attr, "instanceType"))
			type = val;
		else if (!strcmp(attr, "instanceInitiatedShutdownBehavior"))
			sdb = val;
		else
			return api_error(req, 400, "InvalidParameterValue",
					 "haneul can modify only instanceType and instanceInitiatedShutdownBehavior, not '%s'", attr);
	}
	if (!type && !sdb)
		return api_error(req, 400, "MissingParameter",
				 "The request must contain InstanceType or InstanceInitiatedShutdownBehavior");
	if (type && !ec2_type_find(type))
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", type);
	if (sdb && strcmp(sdb, "stop") && strcmp(sdb, "terminate"))
		return api_error(req, 400, "InvalidParameterValue",
				 "Invalid value '%s' for InstanceInitiatedShutdownBehavior", sdb);
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = ec2_inst_load(st, "id = ?", id, &v, &n);
	if (err) {
		api_internal(req);
		goto fail;
	}
	if (!n) {
		api_error(req, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id);
		goto fail;
	}
	if (type && strcmp(v[0].state, "stopped")) {
		api_error(req, 400, "IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", id);
		goto fail;
	}
	if (type && v[0].hibernation) {
		const struct ec2_type *t = ec2_type_find(type);
		int root = ec2_vol_root_gib(st, id);

		if ((uint64_t)root * 1024 < t->mem_mib) {
			api_error(req, 400, "UnsupportedHibernationConfiguration",
				  "The root volume of instance '%s' (%d GiB) is too small for the memory of %s (%u MiB)",
				  id, root, type, t->mem_mib);
			goto fail;
		}
	}
	if ((type && store_exec(st, "UPDATE ec2_instances SET type = ? WHERE id = ?", type, id)) ||
	    (sdb && store_exec(st, "UPDATE ec2_instances SET shutdown_behavior = ? WHERE id = ?", sdb, id))) {
		api_internal(req);
		goto fail;
	}
	if (store_tx_end(st, true)) {
		api_internal(req);
		goto out;
	}
	sb_puts(&req->out, "<return>true</return>");
	ret = 0;
	goto out;
fail:
	store_tx_end(st, false);
out:
	ec2_inst_free(v, n);
	return ret;
}

int ec2_h_DescribeInstanceAttribute(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *id = api_param_required(req, "InstanceId");
	const char *attr = api_param_required(req, "Attribute");
	struct ec2_inst *v = NULL;
	size_t n = 0;
	int ret = -1;

	if (!id || !attr || load_one(req, id, &v, &n))
		goto out;
	xml_elem(&req->out, "instanceId", id);
	if (!strcmp(attr, "instanceType")) {
		sb_puts(&req->out, "<instanceType>");
		xml_elem(&req->out, "value", v[0].type);
		sb_puts(&req->out, "</instanceType>");
	} else if (!strcmp(attr, "instanceInitiatedShutdownBehavior")) {
		sb_puts(&req->out, "<instanceInitiatedShutdownBehavior>");
		xml_elem(&req->out, "value", v[0].shutdown);
		sb_puts(&req->out, "</instanceInitiatedShutdownBehavior>");
	} else if (!strcmp(attr, "userData")) {
		sqlite3_stmt *s;

		if (store_tx_begin(st, false)) {
			api_internal(req);
			goto out;
		}
		s = store_prepare(st, "SELECT user_data FROM ec2_instances WHERE id = ?");
		sb_puts(&req->out, "<userData>");
		if (s) {
			sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
				xml_elem(&req->out, "value", (const char *)sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
		}
		sb_puts(&req->out, "</userData>");
		store_tx_end(st, false);
	} else if (!strcmp(attr, "disableApiTermination") || !strcmp(attr, "disableApiStop")) {
		sb_printf(&req->out, "<%s><value>false</value></%s>", attr, attr);
	} else {
		api_error(req, 400, "InvalidParameterValue", "Value (%s) for parameter attribute is invalid.", attr);
		goto out;
	}
	ret = 0;
out:
	ec2_inst_free(v, n);
	return ret;
}
