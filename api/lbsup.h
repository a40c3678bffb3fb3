/* api/lbsup.h - haneuld's side of the one haneul-lb process (docs/lb.md):
 * start it detached (its own session, reparented to init, so restarting or
 * killing haneuld drops no connection), re-adopt a running one on start
 * through DATA_DIR/lb/lb.pid and its control socket DATA_DIR/lb/ctl.sock, and
 * talk to it.  Nothing here touches the database. */
#ifndef API_LBSUP_H
#define API_LBSUP_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

struct lbsup {
	char bin[PATH_MAX];       /* haneul-lb */
	char dir[PATH_MAX];       /* DATA_DIR/lb: lb.pid, ctl.sock, lb.log */
	unsigned workers;
	pid_t pid;                /* 0: none known */
	time_t retry_at;          /* no new spawn before (after a failed one) */
};

/* Sets the paths (bin and dir copied); creates dir.  0 or -errno. */
int lbsup_init(struct lbsup *s, const char *bin, const char *data_dir, unsigned workers);
/* Makes sure a haneul-lb answers on the control socket: adopts the one of
 * lb.pid when it answers a ping, else (killing an unresponsive one) spawns a
 * new one and waits up to 3 s for it.  *fresh tells whether it was (re)started
 * or adopted, i.e. whether its configuration must be pushed again even if it
 * matches what was last sent.  0 or -errno. */
int lbsup_ensure(struct lbsup *s, bool *adopted);
/* One control request; see vmsup_ctl() for the return values. */
int lbsup_call(struct lbsup *s, const char *request, unsigned timeout_ms, struct json_object **reply);
/* Stops the process of lb.pid (SIGTERM, then SIGKILL after 2 s); true when
 * there was one. */
bool lbsup_stop(struct lbsup *s);

#endif
