/* api/vmsup.h - haneuld's side of one haneul-vmm process: spawn it so that it
 * outlives haneuld, find out later (even from another haneuld) whether it
 * still runs or how it ended, and talk to its control socket.
 *
 * Everything about one VMM lives in its run directory (one per instance):
 *
 *   vmm.pid     the VMM's pid (written before vmsup_spawn() returns)
 *   reaper.pid  the pid of the small reaper process that waits for it
 *   exit        "N\n": the VMM's exit status (128+signal when killed), written
 *               atomically by the reaper when the VMM ends
 *   ctl.sock    the VMM's control socket (docs/vmm.md)
 *   console.log the guest's serial output of the current (or last) VMM: the
 *               VMM truncates it when it starts, so vmsup_spawn() first moves
 *               its tail into
 *   console.prev the last VMSUP_CONSOLE_KEEP bytes written by earlier VMMs of
 *               this run dir (stop/start, hibernate/resume): GetConsoleOutput
 *               shows recent output across starts, as EC2 does
 *   console.in  a FIFO that is the guest's serial input (the VMM's stdin):
 *               what is written there is typed on the guest's COM1, like
 *               EC2's serial console
 *   vmm.log     the VMM's stderr
 *
 * The reaper is a forked copy of haneuld in its own session (setsid) that
 * only waits: haneuld can be restarted or killed and the VMM keeps running,
 * its exit status is still recorded, and nothing becomes a zombie of ours.
 * No function here touches the database. */
#ifndef API_VMSUP_H
#define API_VMSUP_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "common/strbuf.h"

#define VMSUP_MAX_ARGS 64
#define VMSUP_CONSOLE_KEEP (64u * 1024) /* bytes of console.prev */

struct vmsup_spec {
	const char *vmm;        /* haneul-vmm binary */
	const char *run_dir;    /* existing directory, see above */
	const char *kernel;     /* NULL with resume_dir */
	const char *initrd;     /* optional */
	const char *cmdline;    /* optional */
	const char *resume_dir; /* non-NULL: --resume DIR instead of a boot */
	unsigned vcpus;
	unsigned mem_mib;
	unsigned shutdown_timeout_s;
	const char *const *extra; /* more arguments ("--drive", "file=...,id=vol-x", ...) */
	size_t n_extra;
};

enum vmsup_state {
	VMSUP_ABSENT,   /* never spawned in this run dir (no vmm.pid) */
	VMSUP_ALIVE,    /* running (or ending: the reaper has not recorded it yet) */
	VMSUP_EXITED,   /* ended; status in .status */
	VMSUP_LOST,     /* neither the VMM nor its reaper exist and no status was
			 * recorded (both killed, or the host rebooted) */
};

struct vmsup_probe {
	enum vmsup_state state;
	pid_t pid;
	int status;     /* VMSUP_EXITED: exit status, 128 + signal when killed */
};

/* Storage for the strings vmsup_build_argv() makes (owned by the caller). */
struct vmsup_argbuf {
	char num[3][32];
	char ctl[PATH_MAX + 32];
	char log[PATH_MAX + 32];
};

/* Builds the argv for spec into args (at most VMSUP_MAX_ARGS - 1 entries and a
 * NULL): the boot (or --resume), --console none, --control RUN/ctl.sock,
 * --console-log RUN/console.log, then spec->extra.  Strings point into spec
 * or into buf.  The count, or -E2BIG.  Pure: unit-tested. */
int vmsup_build_argv(const struct vmsup_spec *spec, const char **args, struct vmsup_argbuf *buf);

/* Removes a previous run's vmm.pid, reaper.pid, exit and ctl.sock (not the
 * logs).  Refuses (-EBUSY) while a VMM of that run dir is alive. */
int vmsup_reset(const char *run_dir);

/* Appends console.log's tail to console.prev (keeping its last
 * VMSUP_CONSOLE_KEEP bytes) and removes console.log; nothing when there is
 * no console.log.  Called by vmsup_spawn() (the new VMM would truncate the
 * log); the caller makes sure no VMM of run_dir is alive.  0 or -errno. */
int vmsup_console_rotate(const char *run_dir);

/* Starts the VMM detached from haneuld (new session, stdin /dev/null, stdout
 * and stderr appended to vmm.log).  Returns once vmm.pid is written: 0 with
 * *pid, or -errno (nothing left running). */
int vmsup_spawn(const struct vmsup_spec *spec, pid_t *pid);

/* Where the run dir's VMM stands.  0, or -errno for an unreadable dir. */
int vmsup_probe(const char *run_dir, struct vmsup_probe *p);

/* Parses the content of an exit file ("N\n", N in 0..255).  0 or -EINVAL. */
int vmsup_parse_exit(const char *s, int *status);

/* Sends sig to the run dir's VMM if it is alive.  0, -ESRCH if not. */
int vmsup_kill(const char *run_dir, int sig);

/* One control request (a JSON object without newline) and its reply.
 * *reply is the parsed object (json_object_put() it); 0, -ECONNREFUSED /
 * -ENOENT when nobody listens, -ETIMEDOUT, -EPROTO for a malformed reply, or
 * -EREMOTEIO when the VMM answered {"ok":false} (then *reply is still set). */
int vmsup_ctl(const char *run_dir, const char *request, unsigned timeout_ms, struct json_object **reply);

/* The last max bytes of the guest console, base64-encoded, into out: from the
 * live VMM's control socket (its ring, kept across guest reboots), else from
 * console.log, preceded by the tail of console.prev when that is shorter
 * than max.  *total gets the length of the raw bytes.  0 or -errno. */
int vmsup_console_b64(const char *run_dir, size_t max, struct strbuf *out, size_t *total);

#endif
