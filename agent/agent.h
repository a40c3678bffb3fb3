/* agent/agent.h - haneul-agent's event loop: the HTTP service, the vsock
 * readiness announcement and the vsock control channel (docs/agent.md). */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#define AGENT_HOST_CID     2     /* VMADDR_CID_HOST */
#define AGENT_READY_PORT   1024  /* host port the agent connects to (host side: UDS PATH_1024) */
#define AGENT_CTL_PORT     1025  /* guest port the agent listens on (host: CONNECT 1025) */
#define AGENT_HTTP_PORT    80

#define AGENT_MAX_CONNS    256   /* HTTP + control + ready, all together */
#define AGENT_MAX_CTL      16    /* control connections at once */
#define AGENT_MAX_BURNS    64    /* /burn workers at once; more get 503 */

/* How shutdown/reboot commands act. */
enum agent_power {
	AGENT_POWER_INIT,    /* sync, then signal PID 1 (busybox: USR2/TERM, systemd: RTMIN+4/+5);
			      * reboot(2) directly if PID 1 is unknown or still up after 30 s */
	AGENT_POWER_DIRECT,  /* sync, then reboot(RB_POWER_OFF / RB_AUTOBOOT) */
	AGENT_POWER_NONE,    /* log only (tests on a host) */
};

struct agent_config {
	int http_port;             /* 0: no HTTP service */
	uint32_t http_addr;        /* IPv4, network byte order (INADDR_ANY) */
	bool vsock;                /* false: neither readiness nor control channel */
	unsigned host_cid;
	unsigned ready_port;
	unsigned ctl_port;
	const char *unix_base;     /* tests: Unix sockets instead of AF_VSOCK: the host
				    * listens at BASE_<ready_port>, the agent at
				    * BASE.agent_<ctl_port>; NULL for vsock */
	const char *cmdline_path;  /* "/proc/cmdline" */
	const char *sysfs;         /* "/sys" */
	const char *instance_id;   /* overrides haneul.instance_id=, or NULL */
	enum agent_power power;
	int header_timeout_ms;     /* a request head (or control line) must complete within this */
	int idle_timeout_ms;       /* an idle keep-alive HTTP connection is closed after this */
	int notify_fd;             /* written one byte once serving (daemon start-up), or -1 */
};

/* Runs until SIGTERM/SIGINT.  Returns the process exit status (0, or 1
 * when start-up failed: the HTTP port could not be bound, no memory ...). */
int agent_run(const struct agent_config *cfg);

#endif
