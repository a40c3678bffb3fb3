/* agent/actl.c - see actl.h. */
#include "agent/actl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/kcmdline.h"

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

bool actl_name_valid(const char *s)
{
	size_t n = strnlen(s, ACTL_NAME_MAX + 1);

	if (n == 0 || n > ACTL_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static const struct {
	const char *name;
	enum actl_cmd cmd;
} cmds[] = {
	{ "ping", ACTL_PING },
	{ "metadata", ACTL_METADATA },
	{ "shutdown", ACTL_SHUTDOWN },
	{ "reboot", ACTL_REBOOT },
	{ "virtio-devices", ACTL_VIRTIO_DEVICES },
	{ "unbind-virtio", ACTL_UNBIND_VIRTIO },
};

/* Copies the string field FIELD of OBJ into DST after checking it. */
static int take_name(struct json_object *v, const char *field, char *dst, char *err, size_t errlen)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "\"%s\" must be a string", field);
		return -EINVAL;
	}
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s) || !actl_name_valid(s)) {
		snprintf(err, errlen, "\"%s\" must be 1..64 of [A-Za-z0-9._:-]", field);
		return -EINVAL;
	}
	strcpy(dst, s);
	return 0;
}

int actl_parse(const char *line, size_t len, struct actl_req *req, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj, *v;
	const char *name;
	int ret = -EINVAL;
	size_t i;

	memset(req, 0, sizeof(*req));
	if (len > ACTL_LINE_MAX)
		return fail(err, errlen, "line too long");
	if (memchr(line, '\0', len))
		return fail(err, errlen, "NUL byte in request");
	tok = json_tokener_new_ex(4);
	if (!tok)
		return fail(err, errlen, "out of memory");
	obj = json_tokener_parse_ex(tok, line, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		/* json_tokener_continue: the line ended inside a value. */
		fail(err, errlen, "malformed JSON");
		goto out_put;
	}
	for (i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			fail(err, errlen, "trailing data after the JSON object");
			goto out_put;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		fail(err, errlen, "request must be a JSON object");
		goto out_put;
	}
	if (!json_object_object_get_ex(obj, "cmd", &v) || !json_object_is_type(v, json_type_string)) {
		fail(err, errlen, "missing \"cmd\" string");
		goto out_put;
	}
	name = json_object_get_string(v);
	if (!strcmp(name, "exec")) {
		fail(err, errlen, "exec is not offered (no remote shell)");
		goto out_put;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		fail(err, errlen, "unknown command");
		goto out_put;
	}
	req->cmd = cmds[i].cmd;
	json_object_object_foreach(obj, key, val) {
		if (!strcmp(key, "cmd"))
			continue;
		if (req->cmd == ACTL_UNBIND_VIRTIO && !strcmp(key, "device")) {
			if (take_name(val, key, req->device, err, errlen))
				goto out_put;
			continue;
		}
		if (req->cmd == ACTL_UNBIND_VIRTIO && !strcmp(key, "serial")) {
			if (take_name(val, key, req->serial, err, errlen))
				goto out_put;
			continue;
		}
		snprintf(err, errlen, "unknown field \"%.40s\" for %s", key, name);
		goto out_put;
	}
	if (req->cmd == ACTL_UNBIND_VIRTIO && !req->device[0] == !req->serial[0]) {
		fail(err, errlen, "unbind-virtio needs exactly one of \"device\" or \"serial\"");
		goto out_put;
	}
	ret = 0;
out_put:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

/* Serializes OBJ as one line and drops it.  NULL on out-of-memory. */
static char *to_line(struct json_object *obj)
{
	const char *s;
	char *line = NULL;
	size_t n;

	if (!obj)
		return NULL;
	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s) {
		n = strlen(s);
		line = malloc(n + 2);
		if (line) {
			memcpy(line, s, n);
			line[n] = '\n';
			line[n + 1] = '\0';
		}
	}
	json_object_put(obj);
	return line;
}

/* Seconds with two decimals, as /proc/uptime prints them. */
static struct json_object *seconds(double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.2f", v);
	return json_object_new_double_s(v, buf);
}

/* Adds the identity fields shared by "ready" and "metadata". */
static void add_info(struct json_object *o, const struct actl_info *info)
{
	json_object_object_add(o, "instance_id", json_object_new_string(info->instance_id));
	json_object_object_add(o, "uptime", seconds(info->uptime));
	json_object_object_add(o, "boot_id", json_object_new_string(info->boot_id));
	json_object_object_add(o, "nproc", json_object_new_int64(info->nproc));
	json_object_object_add(o, "kernel", json_object_new_string(info->kernel));
	json_object_object_add(o, "http_port", json_object_new_int(info->http_port));
}

char *actl_ready_line(const struct actl_info *info)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "event", json_object_new_string("ready"));
	add_info(o, info);
	json_object_object_add(o, "seq", json_object_new_int64(info->seq));
	return to_line(o);
}

char *actl_ok_reply(void *obj)
{
	struct json_object *src = obj, *o = json_object_new_object();

	if (!o) {
		json_object_put(src);
		return NULL;
	}
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (src) {
		json_object_object_foreach(src, key, val)
			json_object_object_add(o, key, json_object_get(val));
		json_object_put(src);
	}
	return to_line(o);
}

char *actl_metadata_reply(const struct actl_info *info)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_info(o, info);
	if (info->user_data) {
		char *b = malloc(kcmd_b64_len(info->user_data_len) + 1);

		if (!b) {
			json_object_put(o);
			return NULL;
		}
		kcmd_b64_encode(info->user_data, info->user_data_len, b);
		json_object_object_add(o, "user_data", json_object_new_string(b));
		free(b);
	} else {
		json_object_object_add(o, "user_data", NULL);
	}
	return actl_ok_reply(o);
}

char *actl_ping_reply(double uptime)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "pong", json_object_new_boolean(1));
	json_object_object_add(o, "uptime", seconds(uptime));
	return actl_ok_reply(o);
}

char *actl_action_reply(const char *action)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "action", json_object_new_string(action));
	return actl_ok_reply(o);
}

char *actl_unbind_reply(const char *device)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "device", json_object_new_string(device));
	return actl_ok_reply(o);
}

char *actl_error_reply(const char *msg)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return to_line(o);
}
