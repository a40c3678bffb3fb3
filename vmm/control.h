/* vmm/control.h - the control protocol's requests: parsing and validation of
 * one JSON line (pure: no sockets, no VM state).  Unit-tested in
 * tests/unit/test_control.c.  The protocol is described in docs/vmm.md.
 */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_LINE_MAX   (64u * 1024)   /* longest request line, newline excluded */
#define CTL_TIMEOUT_MAX 86400.0       /* seconds */
#define CTL_PATH_MAX   4096u          /* a path field, including the NUL */
#define CTL_ID_MAX     64u            /* a device id field, including the NUL */

enum ctl_cmd {
	CTL_STATUS = 1,
	CTL_PAUSE,
	CTL_RESUME,
	CTL_SHUTDOWN,
	CTL_REBOOT,
	CTL_CONSOLE,
	CTL_METRICS,
	CTL_HIBERNATE,        /* issue 5: save to "dir" and exit (docs/hibernate.md) */
	CTL_ATTACH_DRIVE,     /* issue 4: hot-attach "file" as "id" [,"readonly"] (docs/virtio.md) */
	CTL_DETACH_DRIVE,     /* issue 4: hot-detach "id" [,"force"] */
};

struct ctl_req {
	enum ctl_cmd cmd;
	bool has_timeout;
	double timeout_s;     /* shutdown/reboot: seconds before forcing, 0..CTL_TIMEOUT_MAX */
	bool force;           /* shutdown/reboot: skip the graceful step */
	size_t bytes;         /* console: how much of the tail (1..65536, default 65536) */
	char dir[CTL_PATH_MAX]; /* hibernate: snapshot directory (required, non-empty) */
	char file[CTL_PATH_MAX]; /* attach-drive: image file (required) */
	char id[CTL_ID_MAX];  /* attach-drive/detach-drive: volume id (required) */
	bool readonly;        /* attach-drive */
};

/* Parse one request line (without its newline).  Returns 0 with *req filled,
 * or -EINVAL with a one-line reason in err; *req is then unspecified. */
int ctl_parse(const char *line, size_t len, struct ctl_req *req, char *err, size_t errlen);

const char *ctl_cmd_name(enum ctl_cmd cmd);

/* The error reply for `msg`: a malloc'd "{\"ok\":false,\"error\":...}" line
 * (no trailing newline); caller frees. NULL on allocation failure. */
char *ctl_error_reply(const char *msg);

#endif
