/* vmm/control.c - control request parsing (see control.h). */
#include "vmm/control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "vmm/dev/console.h"

static const struct {
	const char *name;
	enum ctl_cmd cmd;
} ctl_cmds[] = {
	{ "status", CTL_STATUS },     { "pause", CTL_PAUSE },
	{ "resume", CTL_RESUME },     { "shutdown", CTL_SHUTDOWN },
	{ "reboot", CTL_REBOOT },     { "console", CTL_CONSOLE },
	{ "metrics", CTL_METRICS },   { "hibernate", CTL_HIBERNATE },
	{ "attach-drive", CTL_ATTACH_DRIVE }, { "detach-drive", CTL_DETACH_DRIVE },
};

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (ctl_cmds[i].cmd == cmd)
			return ctl_cmds[i].name;
	return "?";
}

/* Which optional fields each command accepts. */
static bool field_allowed(enum ctl_cmd cmd, const char *key)
{
	if (!strcmp(key, "cmd"))
		return true;
	switch (cmd) {
	case CTL_SHUTDOWN:
	case CTL_REBOOT:
		return !strcmp(key, "timeout") || !strcmp(key, "force");
	case CTL_CONSOLE:
		return !strcmp(key, "bytes");
	case CTL_HIBERNATE:
		return !strcmp(key, "dir");
	case CTL_ATTACH_DRIVE:
		return !strcmp(key, "file") || !strcmp(key, "id") || !strcmp(key, "readonly");
	case CTL_DETACH_DRIVE:
		return !strcmp(key, "id") || !strcmp(key, "force");
	default:
		return false;
	}
}

static int parse_fields(json_object *o, struct ctl_req *req, char *err, size_t errlen)
{
	json_object_object_foreach(o, key, val) {
		if (!field_allowed(req->cmd, key)) {
			snprintf(err, errlen, "unknown field \"%.64s\" for command \"%s\"", key,
				 ctl_cmd_name(req->cmd));
			return -EINVAL;
		}
		if (!strcmp(key, "timeout")) {
			double t;

			if (!json_object_is_type(val, json_type_int) &&
			    !json_object_is_type(val, json_type_double)) {
				snprintf(err, errlen, "\"timeout\" must be a number of seconds");
				return -EINVAL;
			}
			t = json_object_get_double(val);
			if (!(t >= 0 && t <= CTL_TIMEOUT_MAX)) {
				snprintf(err, errlen, "\"timeout\" must be between 0 and %.0f seconds",
					 CTL_TIMEOUT_MAX);
				return -EINVAL;
			}
			req->has_timeout = true;
			req->timeout_s = t;
		} else if (!strcmp(key, "force")) {
			if (!json_object_is_type(val, json_type_boolean)) {
				snprintf(err, errlen, "\"force\" must be true or false");
				return -EINVAL;
			}
			req->force = json_object_get_boolean(val);
		} else if (!strcmp(key, "bytes")) {
			int64_t b;

			if (!json_object_is_type(val, json_type_int)) {
				snprintf(err, errlen, "\"bytes\" must be an integer");
				return -EINVAL;
			}
			errno = 0;
			b = json_object_get_int64(val);
			if (errno || b < 1 || b > (int64_t)CONSOLE_RING_SIZE) {
				snprintf(err, errlen, "\"bytes\" must be between 1 and %u", CONSOLE_RING_SIZE);
				return -EINVAL;
			}
			req->bytes = (size_t)b;
		} else if (!strcmp(key, "dir")) {
			const char *d = json_object_get_string(val);

			if (!json_object_is_type(val, json_type_string) || !*d ||
			    strlen(d) >= CTL_PATH_MAX ||
			    strlen(d) != (size_t)json_object_get_string_len(val)) {
				snprintf(err, errlen, "\"dir\" must be a non-empty path shorter than %u bytes",
					 CTL_PATH_MAX);
				return -EINVAL;
			}
			snprintf(req->dir, sizeof(req->dir), "%s", d);
		} else if (!strcmp(key, "file") || !strcmp(key, "id")) {
			bool is_id = key[0] == 'i';
			size_t max = is_id ? CTL_ID_MAX : CTL_PATH_MAX;
			const char *v = json_object_get_string(val);

			if (!json_object_is_type(val, json_type_string) || !*v || strlen(v) >= max ||
			    strlen(v) != (size_t)json_object_get_string_len(val)) {
				snprintf(err, errlen, "\"%s\" must be a non-empty string shorter than %zu bytes",
					 key, max);
				return -EINVAL;
			}
			snprintf(is_id ? req->id : req->file, max, "%s", v);
		} else if (!strcmp(key, "readonly")) {
			if (!json_object_is_type(val, json_type_boolean)) {
				snprintf(err, errlen, "\"readonly\" must be true or false");
				return -EINVAL;
			}
			req->readonly = json_object_get_boolean(val);
		}
	}
	if ((req->cmd == CTL_ATTACH_DRIVE || req->cmd == CTL_DETACH_DRIVE) && !req->id[0]) {
		snprintf(err, errlen, "%s needs \"id\": the volume id", ctl_cmd_name(req->cmd));
		return -EINVAL;
	}
	if (req->cmd == CTL_ATTACH_DRIVE && !req->file[0]) {
		snprintf(err, errlen, "attach-drive needs \"file\": the image path");
		return -EINVAL;
	}
	if (req->cmd == CTL_HIBERNATE && !req->dir[0]) {
		snprintf(err, errlen, "hibernate needs \"dir\": the snapshot directory");
		return -EINVAL;
	}
	return 0;
}

int ctl_parse(const char *line, size_t len, struct ctl_req *req, char *err, size_t errlen)
{
	json_tokener *tok;
	json_object *o = NULL, *jcmd;
	const char *name;
	size_t used;
	int r = -EINVAL;

	memset(req, 0, sizeof(*req));
	req->bytes = CONSOLE_RING_SIZE;
	if (len > CTL_LINE_MAX) {
		snprintf(err, errlen, "request line longer than %u bytes", CTL_LINE_MAX);
		return -EINVAL;
	}
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "request contains a NUL byte");
		return -EINVAL;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(err, errlen, "malformed JSON: %s",
			 json_tokener_error_desc(json_tokener_get_error(tok) == json_tokener_continue
						 ? json_tokener_error_parse_eof
						 : json_tokener_get_error(tok)));
		goto out;
	}
	used = (size_t)json_tokener_get_parse_end(tok);
	for (; used < len; used++) {
		if (!strchr(" \t\r\n", line[used])) {
			snprintf(err, errlen, "malformed JSON: trailing data after the object");
			goto out;
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "request must be a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(o, "cmd", &jcmd)) {
		snprintf(err, errlen, "missing \"cmd\"");
		goto out;
	}
	if (!json_object_is_type(jcmd, json_type_string)) {
		snprintf(err, errlen, "\"cmd\" must be a string");
		goto out;
	}
	name = json_object_get_string(jcmd);
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (!strcmp(name, ctl_cmds[i].name))
			req->cmd = ctl_cmds[i].cmd;
	if (!req->cmd) {
		snprintf(err, errlen, "unknown command \"%.64s\"", name);
		goto out;
	}
	r = parse_fields(o, req, err, errlen);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

char *ctl_error_reply(const char *msg)
{
	json_object *o = json_object_new_object();
	char *s;

	if (!o)
		return NULL;
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}
