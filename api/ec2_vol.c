/* api/ec2_vol.c - EBS volumes: sparse raw files under DATA_DIR/ec2/volumes,
 * given to the VMM as virtio-blk drives (--drive at boot, control
 * attach-drive/detach-drive while running; docs/virtio.md).  A volume's
 * bytes live in its file, so they outlive instances and haneuld restarts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/ec2_int.h"
#include "api/vmsup.h"
#include "api/xml.h"
#include "common/log.h"

#define VOL_COLS "id, size_gib, az, type, state, created, instance_id, device, attach_time, attach_state," \
	" delete_on_termination, seq"

static int copy_file(const char *src, int dfd)
{
	char buf[65536];
	int sfd = open(src, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	off_t off = 0;

	if (sfd < 0)
		return -errno;
	while ((r = read(sfd, buf, sizeof(buf))) > 0) {
		size_t i;
		bool zero = true;

		for (i = 0; i < (size_t)r && zero; i++)
			zero = buf[i] == 0;
		/* Keep the copy sparse. */
		if (!zero && pwrite(dfd, buf, (size_t)r, off) != r) {
			close(sfd);
			return -EIO;
		}
		off += r;
	}
	close(sfd);
	return r < 0 ? -EIO : 0;
}

int ec2_vol_create(struct ec2 *e, const char *id, unsigned size_gib, const char *type, const char *az,
		   const char *src, time_t now)
{
	struct store *st = &e->api->store;
	char path[PATH_MAX + 64];
	sqlite3_stmt *s;
	int fd, err = 0;

	ec2_vol_path(e, id, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (src)
		err = copy_file(src, fd);
	if (!err && ftruncate(fd, (off_t)size_gib << 30) < 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	close(fd);
	if (err)
		goto fail;
	s = store_prepare(st, "INSERT INTO ec2_volumes(id, size_gib, az, type, state, created) VALUES (?,?,?,?,'available',?)");
	if (!s) {
		err = -EIO;
		goto fail;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)size_gib);
	sqlite3_bind_text(s, 3, az, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	if (!err)
		err = billing_open(st, id, "volume", type, size_gib, 0, now);
	if (!err)
		return 0;
fail:
	unlink(path);
	return err;
}

void ec2_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int ec2_vol_drive_args(struct ec2 *e, const char *inst, char ***out, size_t *n)
{
	struct store *st = &e->api->store;
	sqlite3_stmt *s = store_prepare(st, "SELECT id FROM ec2_volumes WHERE instance_id = ? AND attach_state = 'attached'"
				     " ORDER BY device != '/dev/xvda', device, seq");
	char **v = NULL, path[PATH_MAX + 64];
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char **nv = realloc(v, (cnt + 2) * sizeof(*v));
		const char *id = (const char *)sqlite3_column_text(s, 0);

		if (!nv) {
			rc = SQLITE_NOMEM;
			break;
		}
		v = nv;
		ec2_vol_path(e, id, path, sizeof(path));
		v[cnt] = strdup("--drive");
		v[cnt + 1] = malloc(strlen(path) + strlen(id) + 16);
		cnt += 2;
		if (!v[cnt - 2] || !v[cnt - 1]) {
			rc = SQLITE_NOMEM;
			break;
		}
		sprintf(v[cnt - 1], "file=%s,id=%s", path, id);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		ec2_strv_free(v, cnt);
		return -EIO;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int vol_delete_row(struct ec2 *e, const char *id, time_t now)
{
	struct store *st = &e->api->store;
	char path[PATH_MAX + 64];
	sqlite3_stmt *s = store_prepare(st, "DELETE FROM ec2_volumes WHERE id = ?");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	if (!err)
		err = billing_close(st, id, "volume", now);
	if (!err) {
		s = store_prepare(st, "DELETE FROM ec2_tags WHERE resource_id = ?");
		if (s) {
			sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			sqlite3_step(s);
			sqlite3_finalize(s);
		}
		ec2_vol_path(e, id, path, sizeof(path));
		/* The row goes in this transaction; the file after (a rollback
		 * would leave a row without a file otherwise). */
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("ec2: cannot remove %s: %s", path, strerror(errno));
	}
	return err;
}

int ec2_vol_on_terminate(struct ec2 *e, const char *inst, time_t now)
{
	struct store *st = &e->api->store;
	sqlite3_stmt *s = store_prepare(st, "SELECT id, delete_on_termination FROM ec2_volumes WHERE instance_id = ?");
	char (*ids)[EC2_ID_LEN] = NULL;
	bool *del = NULL;
	size_t n = 0, i;
	int err = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		void *a = realloc(ids, (n + 1) * sizeof(*ids)), *b;

		if (!a)
			break;
		ids = a;
		b = realloc(del, (n + 1) * sizeof(*del));
		if (!b)
			break;
		del = b;
		snprintf(ids[n], EC2_ID_LEN, "%s", (const char *)sqlite3_column_text(s, 0));
		del[n++] = sqlite3_column_int(s, 1) != 0;
	}
	sqlite3_finalize(s);
	for (i = 0; i < n && !err; i++) {
		if (del[i]) {
			err = vol_delete_row(e, ids[i], now);
			continue;
		}
		s = store_prepare(st, "UPDATE ec2_volumes SET state = 'available', instance_id = NULL, device = NULL,"
				      " attach_time = NULL, attach_state = NULL, delete_on_termination = 0 WHERE id = ?");
		if (!s) {
			err = -EIO;
			break;
		}
		sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
		err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(s);
	}
	free(ids);
	free(del);
	return err;
}

int ec2_vol_root_gib(struct store *st, const char *inst)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT size_gib FROM ec2_volumes WHERE instance_id = ? AND device = '/dev/xvda'");
	int v = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

void ec2_vol_bdm_xml(struct store *st, const char *inst, struct strbuf *b)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT id, device, attach_state, attach_time, delete_on_termination"
				     " FROM ec2_volumes WHERE instance_id = ? ORDER BY device != '/dev/xvda', device");
	bool any = false;
	char when[32];

	if (s)
		sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		if (!any)
			sb_puts(b, "<blockDeviceMapping>");
		any = true;
		api_format_time((time_t)sqlite3_column_int64(s, 3), when);
		sb_puts(b, "<item>");
		xml_elem(b, "deviceName", (const char *)sqlite3_column_text(s, 1));
		sb_puts(b, "<ebs>");
		xml_elem(b, "volumeId", (const char *)sqlite3_column_text(s, 0));
		xml_elem(b, "status", (const char *)sqlite3_column_text(s, 2));
		xml_elem(b, "attachTime", when);
		xml_elem(b, "deleteOnTermination", sqlite3_column_int(s, 4) ? "true" : "false");
		sb_puts(b, "</ebs></item>");
	}
	sqlite3_finalize(s);
	sb_puts(b, any ? "</blockDeviceMapping>" : "<blockDeviceMapping/>");
}

/* ---- handlers ------------------------------------------------------------------- */

struct vol_row {
	char id[EC2_ID_LEN], az[40], type[16], state[16], inst[EC2_ID_LEN], device[32], astate[16];
	int size;
	bool dot;
	int64_t created, attach_time, seq;
};

static void vol_from(sqlite3_stmt *s, struct vol_row *v)
{
	memset(v, 0, sizeof(*v));
	store_col_copy(v->id, sizeof(v->id), s, 0);
	v->size = sqlite3_column_int(s, 1);
	store_col_copy(v->az, sizeof(v->az), s, 2);
	store_col_copy(v->type, sizeof(v->type), s, 3);
	store_col_copy(v->state, sizeof(v->state), s, 4);
	v->created = sqlite3_column_int64(s, 5);
	store_col_copy(v->inst, sizeof(v->inst), s, 6);
	store_col_copy(v->device, sizeof(v->device), s, 7);
	v->attach_time = sqlite3_column_int64(s, 8);
	store_col_copy(v->astate, sizeof(v->astate), s, 9);
	v->dot = sqlite3_column_int(s, 10) != 0;
	v->seq = sqlite3_column_int64(s, 11);
}

static int vol_get(struct store *st, const char *id, struct vol_row *v)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT " VOL_COLS " FROM ec2_volumes WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		vol_from(s, v);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static void vol_xml(struct strbuf *b, const struct vol_row *v, const struct ec2_tag *tags, size_t nt, bool wrap)
{
	char when[32];

	api_format_time((time_t)v->created, when);
	if (wrap)
		sb_puts(b, "<item>");
	xml_elem(b, "volumeId", v->id);
	xml_elemf(b, "size", "%d", v->size);
	xml_elem(b, "snapshotId", "");
	xml_elem(b, "availabilityZone", v->az);
	xml_elem(b, "status", v->state);
	xml_elem(b, "createTime", when);
	if (v->inst[0]) {
		api_format_time((time_t)v->attach_time, when);
		sb_puts(b, "<attachmentSet><item>");
		xml_elem(b, "volumeId", v->id);
		xml_elem(b, "instanceId", v->inst);
		xml_elem(b, "device", v->device);
		xml_elem(b, "status", v->astate);
		xml_elem(b, "attachTime", when);
		xml_elem(b, "deleteOnTermination", v->dot ? "true" : "false");
		sb_puts(b, "</item></attachmentSet>");
	} else {
		sb_puts(b, "<attachmentSet/>");
	}
	ec2_tags_xml(b, tags, nt);
	xml_elem(b, "volumeType", v->type);
	sb_puts(b, "<encrypted>false</encrypted><multiAttachEnabled>false</multiAttachEnabled>");
	if (!strcmp(v->type, "gp3"))
		sb_puts(b, "<iops>3000</iops><throughput>125</throughput>");
	if (wrap)
		sb_puts(b, "</item>");
}

static bool truthy(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

int ec2_h_CreateVolume(struct api_req *req)
{
	struct api *api = req->api;
	struct store *st = &api->store;
	const char *az = api_param_required(req, "AvailabilityZone");
	const char *size = api_param(req, "Size"), *type = api_param(req, "VolumeType");
	const char *token = api_param(req, "ClientToken");
	struct vol_row v;
	struct ec2_tag *tags = NULL;
	size_t nt = 0;
	char id[EC2_ID_LEN], *end;
	long gib;
	int err;

	if (!az)
		return -1;
	if (api_param(req, "SnapshotId"))
		return api_error(req, 400, "InvalidSnapshot.NotFound", "haneul has no EBS snapshots");
	if (!size)
		return api_error(req, 400, "MissingParameter", "The request must contain the parameter size/snapshot");
	gib = strtol(size, &end, 10);
	if (*end || gib < 1 || gib > 16384)
		return api_error(req, 400, "InvalidParameterValue",
				 "Volume of %s GiB is out of range: 1 to 16384 GiB", size);
	if (!type)
		type = "gp3";
	if (!ec2_voltype_price(type))
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for VolumeType", type);
	if (!ec2_az_valid(api, az))
		return api_error(req, 400, "InvalidParameterValue", "Invalid availability zone: [%s]", az);
	if (ec2_tag_specs_check(req))
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	if (token && *token) {
		sqlite3_stmt *s = store_prepare(st, "SELECT id FROM ec2_volumes WHERE client_token = ?");

		id[0] = '\0';
		if (s) {
			sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				store_col_copy(id, sizeof(id), s, 0);
			sqlite3_finalize(s);
		}
		if (id[0])
			goto answer;
	}
	ec2_new_id("vol-", id);
	err = ec2_vol_create(api->ec2, id, (unsigned)gib, type, az, NULL, api->now());
	if (!err && token && *token) {
		sqlite3_stmt *s = store_prepare(st, "UPDATE ec2_volumes SET client_token = ? WHERE id = ?");

		err = -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
			err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
			sqlite3_finalize(s);
		}
	}
	if (!err)
		err = ec2_tag_specs_apply(req, "volume", id);
	if (err) {
		char p[PATH_MAX + 64];

		store_tx_end(st, false);
		ec2_vol_path(api->ec2, id, p, sizeof(p));
		unlink(p);
		return api_internal(req);
	}
answer:
	err = vol_get(st, id, &v);
	if (!err)
		err = ec2_tags_load(st, id, &tags, &nt);
	if (store_tx_end(st, true) || err) {
		ec2_tags_free(tags, nt);
		return api_internal(req);
	}
	vol_xml(&req->out, &v, tags, nt, false);
	ec2_tags_free(tags, nt);
	return 0;
}

static int vol_lookup_err(struct api_req *req, int err, const char *id)
{
	if (err == -ENOENT)
		return api_error(req, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
	return api_internal(req);
}

static int inst_state(struct store *st, const char *id, char *state, char *az)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT state, az FROM ec2_instances WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		store_col_copy(state, 16, s, 0);
		store_col_copy(az, 40, s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static void attach_xml(struct strbuf *b, const char *vol, const char *inst, const char *dev, const char *status,
		       time_t t)
{
	char when[32];

	api_format_time(t, when);
	xml_elem(b, "volumeId", vol);
	xml_elem(b, "instanceId", inst);
	xml_elem(b, "device", dev);
	xml_elem(b, "status", status);
	xml_elem(b, "attachTime", when);
}

int ec2_h_AttachVolume(struct api_req *req)
{
	struct api *api = req->api;
	struct ec2 *e = api->ec2;
	struct store *st = &api->store;
	const char *vol = api_param_required(req, "VolumeId");
	const char *inst = vol ? api_param_required(req, "InstanceId") : NULL;
	const char *dev = inst ? api_param_required(req, "Device") : NULL;
	char state[16] = "", az[40] = "", dir[PATH_MAX + 64], path[PATH_MAX + 64];
	struct vol_row v;
	sqlite3_stmt *s;
	time_t now = api->now();
	int err, used = 0;

	if (!dev)
		return -1;
	if (strncmp(dev, "/dev/", 5) != 0 || strlen(dev) > 31)
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for unixDevice.", dev);
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = vol_get(st, vol, &v);
	if (err) {
		store_tx_end(st, false);
		return vol_lookup_err(req, err, vol);
	}
	err = inst_state(st, inst, state, az);
	if (err) {
		store_tx_end(st, false);
		return err == -ENOENT ? api_error(req, 400, "InvalidInstanceID.NotFound",
						  "The instance ID '%s' does not exist", inst) : api_internal(req);
	}
	if (strcmp(v.state, "available")) {
		store_tx_end(st, false);
		return api_error(req, 400, "VolumeInUse", "%s is already attached to an instance", vol);
	}
	if (strcmp(state, "running") && strcmp(state, "stopped")) {
		store_tx_end(st, false);
		return api_error(req, 400, "IncorrectInstanceState", "Instance '%s' is not 'running' or 'stopped'.", inst);
	}
	if (strcmp(az, v.az)) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidVolume.ZoneMismatch",
				 "The volume '%s' is not in the same availability zone as instance '%s'", vol, inst);
	}
	s = store_prepare(st, "SELECT count(*) FROM ec2_volumes WHERE instance_id = ? AND device = ?");
	if (s) {
		sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, dev, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			used = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	if (used) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidParameterValue",
				 "Invalid value '%s' for unixDevice. Attachment point %s is already in use", dev, dev);
	}
	if (!strcmp(state, "running") && strcmp(dev, "/dev/xvda")) {
		struct json_object *r = NULL, *m;
		char cmd[PATH_MAX + 200];

		ec2_run_dir(e, inst, dir, sizeof(dir));
		ec2_vol_path(e, vol, path, sizeof(path));
		snprintf(cmd, sizeof(cmd), "{\"cmd\":\"attach-drive\",\"file\":\"%s\",\"id\":\"%s\"}", path, vol);
		err = vmsup_ctl(dir, cmd, 5000, &r);
		if (err) {
			const char *why = r && json_object_object_get_ex(r, "error", &m) ? json_object_get_string(m) :
					  strerror(-err);

			store_tx_end(st, false);
			api_error(req, 400, "IncorrectInstanceState", "Instance '%s' could not take the volume: %s", inst, why);
			json_object_put(r);
			return -1;
		}
		json_object_put(r);
	} else if (!strcmp(state, "running")) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidParameterValue",
				 "The root device /dev/xvda of a running instance cannot be replaced; stop it first");
	}
	s = store_prepare(st, "UPDATE ec2_volumes SET state = 'in-use', instance_id = ?, device = ?, attach_time = ?,"
			      " attach_state = 'attached', delete_on_termination = 0 WHERE id = ?");
	err = -EIO;
	if (s) {
		sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, dev, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
		sqlite3_bind_text(s, 4, vol, -1, SQLITE_STATIC);
		err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(s);
	}
	if (store_tx_end(st, err == 0) || err)
		return api_internal(req);
	attach_xml(&req->out, vol, inst, dev, "attached", now);
	return 0;
}

int ec2_h_DetachVolume(struct api_req *req)
{
	struct api *api = req->api;
	struct ec2 *e = api->ec2;
	struct store *st = &api->store;
	const char *vol = api_param_required(req, "VolumeId"), *inst = api_param(req, "InstanceId");
	bool force = truthy(api_param(req, "Force"));
	char state[16] = "", az[40], dir[PATH_MAX + 64];
	const char *final = "detached";
	struct vol_row v;
	sqlite3_stmt *s;
	int err;

	if (!vol)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = vol_get(st, vol, &v);
	if (err) {
		store_tx_end(st, false);
		return vol_lookup_err(req, err, vol);
	}
	if (!v.inst[0] || (inst && strcmp(inst, v.inst))) {
		store_tx_end(st, false);
		if (inst && v.inst[0])
			return api_error(req, 400, "InvalidAttachment.NotFound",
					 "Volume '%s' is not attached to instance '%s'", vol, inst);
		return api_error(req, 400, "IncorrectState", "Volume '%s' is in the '%s' state.", vol, v.state);
	}
	if (inst_state(st, v.inst, state, az)) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	if (!strcmp(v.device, "/dev/xvda") && strcmp(state, "stopped") && strcmp(state, "terminated")) {
		store_tx_end(st, false);
		return api_error(req, 400, "UnsupportedOperation",
				 "Unable to detach root volume '%s' from instance '%s' while it is %s; stop it first",
				 vol, v.inst, state);
	}
	if (!strcmp(state, "running") || !strcmp(state, "pending") || !strcmp(state, "stopping")) {
		struct json_object *r = NULL, *m;
		char cmd[256];

		ec2_run_dir(e, v.inst, dir, sizeof(dir));
		snprintf(cmd, sizeof(cmd), "{\"cmd\":\"detach-drive\",\"id\":\"%s\"%s}", vol, force ? ",\"force\":true" : "");
		err = vmsup_ctl(dir, cmd, 5000, &r);
		if (err == -EREMOTEIO) {
			const char *why = r && json_object_object_get_ex(r, "error", &m) ? json_object_get_string(m) : "?";

			log_warn("ec2: detach %s from %s: the VMM says %s", vol, v.inst, why);
		}
		if (!err && r && json_object_object_get_ex(r, "state", &m) &&
		    !strcmp(json_object_get_string(m), "detaching"))
			final = "detaching";
		json_object_put(r);
	}
	if (!strcmp(final, "detached"))
		s = store_prepare(st, "UPDATE ec2_volumes SET state = 'available', instance_id = NULL, device = NULL,"
				      " attach_time = NULL, attach_state = NULL, delete_on_termination = 0 WHERE id = ?");
	else
		s = store_prepare(st, "UPDATE ec2_volumes SET attach_state = 'detaching' WHERE id = ?");
	err = -EIO;
	if (s) {
		sqlite3_bind_text(s, 1, vol, -1, SQLITE_STATIC);
		err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(s);
	}
	if (store_tx_end(st, err == 0) || err)
		return api_internal(req);
	attach_xml(&req->out, vol, v.inst, v.device, final, (time_t)v.attach_time);
	return 0;
}

int ec2_h_DeleteVolume(struct api_req *req)
{
	struct api *api = req->api;
	struct store *st = &api->store;
	const char *vol = api_param_required(req, "VolumeId");
	struct vol_row v;
	int err;

	if (!vol)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = vol_get(st, vol, &v);
	if (err) {
		store_tx_end(st, false);
		return vol_lookup_err(req, err, vol);
	}
	if (strcmp(v.state, "available")) {
		store_tx_end(st, false);
		return api_error(req, 400, "VolumeInUse", "Volume %s is currently attached to %s", vol, v.inst);
	}
	err = vol_delete_row(api->ec2, vol, api->now());
	if (store_tx_end(st, err == 0) || err)
		return api_internal(req);
	sb_puts(&req->out, "<return>true</return>");
	return 0;
}

int ec2_h_DescribeVolumes(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	const char **ids = NULL;
	size_t nf, nids, i, found = 0;
	sqlite3_stmt *s;
	int max, count = 0, ret = -1;
	int64_t after;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "VolumeId", &ids, &nids) || ec2_page(req, 5, &max, &after))
		goto out;
	if (store_tx_begin(st, false)) {
		api_internal(req);
		goto out;
	}
	s = store_prepare(st, "SELECT " VOL_COLS " FROM ec2_volumes WHERE seq > ? ORDER BY seq");
	if (!s) {
		store_tx_end(st, false);
		api_internal(req);
		goto out;
	}
	sqlite3_bind_int64(s, 1, after);
	sb_puts(&req->out, "<volumeSet>");
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct vol_row v;
		struct ec2_tag *tags = NULL;
		size_t nt = 0;
		bool keep = nids == 0, is_tag;
		char size[16];

		vol_from(s, &v);
		for (i = 0; i < nids; i++)
			if (!strcmp(ids[i], v.id)) {
				keep = true;
				found++;
			}
		if (keep && ec2_tags_load(st, v.id, &tags, &nt))
			keep = false;
		snprintf(size, sizeof(size), "%d", v.size);
		for (i = 0; i < nf && keep; i++) {
			const char *n = f[i].name, *x;

			if (!ec2_filter_tags(&f[i], tags, nt, &is_tag)) {
				keep = false;
				break;
			}
			if (is_tag)
				continue;
			x = !strcmp(n, "volume-id") ? v.id : !strcmp(n, "status") ? v.state :
			    !strcmp(n, "availability-zone") ? v.az : !strcmp(n, "volume-type") ? v.type :
			    !strcmp(n, "size") ? size : !strcmp(n, "attachment.instance-id") ? v.inst :
			    !strcmp(n, "attachment.device") ? v.device : !strcmp(n, "attachment.status") ? v.astate :
			    !strcmp(n, "attachment.delete-on-termination") ? (v.dot ? "true" : "false") : NULL;
			if (!x) {
				ec2_tags_free(tags, nt);
				sqlite3_finalize(s);
				store_tx_end(st, false);
				api_error(req, 400, "InvalidParameterValue", "The filter '%s' is invalid", n);
				goto out;
			}
			keep = ec2_filter_match(&f[i], x);
		}
		if (keep && count == max) {
			ec2_tags_free(tags, nt);
			sb_puts(&req->out, "</volumeSet>");
			sb_printf(&req->out, "<nextToken>hn1-%lld</nextToken>", (long long)v.seq - 1);
			sqlite3_finalize(s);
			store_tx_end(st, false);
			ret = 0;
			goto out;
		}
		if (keep) {
			count++;
			vol_xml(&req->out, &v, tags, nt, true);
		}
		ec2_tags_free(tags, nt);
	}
	sb_puts(&req->out, "</volumeSet>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (found < nids) {
		for (i = 0; i < nids; i++)
			if (!strstr(sb_cstr(&req->out), ids[i])) {
				api_error(req, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", ids[i]);
				goto out;
			}
	}
	ret = 0;
out:
	free(ids);
	return ret;
}
