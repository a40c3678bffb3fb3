/* agent/actl.h - the agent's vsock protocol: one JSON object per line each
 * way (json-c).  Pure: parsing and message building; the effects (power,
 * sysfs) are agent/agent.c's and agent/asys.c's.
 *
 * Host -> agent, on the agent's control port (and on the ready connection):
 *   {"cmd":"ping"}                         -> {"ok":true,"pong":true,"uptime":S}
 *   {"cmd":"metadata"}                     -> {"ok":true,"instance_id":..,...}
 *   {"cmd":"shutdown"}                     -> {"ok":true,"action":"poweroff"}, then power off
 *   {"cmd":"reboot"}                       -> {"ok":true,"action":"reboot"}, then reboot
 *   {"cmd":"virtio-devices"}               -> {"ok":true,"devices":[{"device":..,...}]}
 *   {"cmd":"unbind-virtio","device":NAME}  -> {"ok":true,"device":NAME}
 *   {"cmd":"unbind-virtio","serial":VOL}   -> the same, for the disk with that serial
 * Anything else (garbage, trailing bytes, unknown or wrongly typed fields,
 * unknown commands, "exec") -> {"ok":false,"error":"..."}.
 */
#ifndef AGENT_ACTL_H
#define AGENT_ACTL_H

#include <stdbool.h>
#include <stddef.h>

#define ACTL_LINE_MAX  4096  /* one request line, without its newline */
#define ACTL_NAME_MAX  64    /* device names and serials */

enum actl_cmd {
	ACTL_PING,
	ACTL_METADATA,
	ACTL_SHUTDOWN,
	ACTL_REBOOT,
	ACTL_VIRTIO_DEVICES,
	ACTL_UNBIND_VIRTIO,
};

struct actl_req {
	enum actl_cmd cmd;
	char device[ACTL_NAME_MAX + 1];  /* unbind-virtio: platform device name, or "" */
	char serial[ACTL_NAME_MAX + 1];  /* unbind-virtio: disk serial, or "" */
};

/* Parses one line (LEN bytes, no newline; need not be NUL-terminated).
 * 0, or -EINVAL with a message for the error reply in ERR. */
int actl_parse(const char *line, size_t len, struct actl_req *req, char *err, size_t errlen);

/* Platform device names the agent will write to sysfs: 1..64 of
 * [A-Za-z0-9._:-], not "." or "..". */
bool actl_name_valid(const char *s);

/* What the agent knows about itself, for "ready" and "metadata". */
struct actl_info {
	const char *instance_id;
	const char *boot_id;       /* "" when unreadable */
	const char *kernel;        /* uname release */
	double uptime;             /* seconds, /proc/uptime */
	long nproc;
	int http_port;             /* 0 when the HTTP service is off */
	const unsigned char *user_data; /* NULL when none */
	size_t user_data_len;
	unsigned seq;              /* ready: how many times announced (1 = first) */
};

/* Each returns a malloc'd NUL-terminated line ending in '\n' (caller frees),
 * or NULL on out-of-memory. */
char *actl_ready_line(const struct actl_info *info);
char *actl_metadata_reply(const struct actl_info *info);
char *actl_ping_reply(double uptime);
char *actl_action_reply(const char *action);
char *actl_error_reply(const char *msg);
char *actl_unbind_reply(const char *device);

/* A reply built with json-c from a caller-made object: {"ok":true} + OBJ's
 * fields.  Takes ownership of OBJ (a struct json_object *). */
char *actl_ok_reply(void *obj);

#endif
