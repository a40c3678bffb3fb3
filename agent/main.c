/* agent/main.c - haneul-agent: options, daemon start-up, logging.
 * See docs/agent.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/kcmdline.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: haneul-agent [options]\n"
		"  --foreground        stay in the foreground (default: daemonize once serving)\n"
		"  --port N            HTTP port (default 80; 0 = no HTTP service)\n"
		"  --http-addr A       IPv4 address to serve on (default 0.0.0.0)\n"
		"  --no-vsock          no readiness announcement, no control channel\n"
		"  --host-cid N        vsock CID of the host (default 2)\n"
		"  --ready-port N      host vsock port for the ready event (default 1024)\n"
		"  --ctl-port N        guest vsock port for host commands (default 1025)\n"
		"  --vsock-unix BASE   tests: Unix sockets BASE_<ready-port> / BASE.agent_<ctl-port>\n"
		"                      instead of AF_VSOCK\n"
		"  --power MODE        init (default) | direct | none (log only)\n"
		"  --cmdline FILE      kernel command line (default /proc/cmdline)\n"
		"  --sysfs DIR         sysfs root (default /sys)\n"
		"  --instance-id ID    override haneul.instance_id=\n"
		"  --header-timeout MS a request head / control line must complete within (10000)\n"
		"  --idle-timeout MS   idle keep-alive connections are closed after (30000)\n"
		"  --log kmsg|stderr   where logs go (default: kmsg when daemonized, else stderr)\n"
		"  -v                  more logging (debug)\n");
}

static int parse_num(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "haneul-agent: %s '%s': must be a number from %ld to %ld\n", opt, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Forks; the parent waits until the child serves (or fails) and exits with
 * 0 / 1, so `haneul-agent &&` in /init means "port 80 is up".  Returns the
 * notify fd in the child. */
static int daemonize(void)
{
	int pfd[2];
	pid_t pid;
	char b;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		exit(read(pfd[0], &b, 1) == 1 ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	umask(022);
	return pfd[1];
}

static void redirect_stdio(int log_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(log_fd >= 0 ? log_fd : null, 2);
		close(null);
	}
	if (log_fd > 2)
		close(log_fd);
}

int main(int argc, char **argv)
{
	enum { O_PORT = 256, O_ADDR, O_NOVSOCK, O_CID, O_RPORT, O_CPORT, O_UNIX, O_POWER,
	       O_CMDLINE, O_SYSFS, O_ID, O_LOG, O_FG, O_HELP, O_HTO, O_ITO };
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, O_FG },
		{ "port", required_argument, NULL, O_PORT },
		{ "http-addr", required_argument, NULL, O_ADDR },
		{ "no-vsock", no_argument, NULL, O_NOVSOCK },
		{ "host-cid", required_argument, NULL, O_CID },
		{ "ready-port", required_argument, NULL, O_RPORT },
		{ "ctl-port", required_argument, NULL, O_CPORT },
		{ "vsock-unix", required_argument, NULL, O_UNIX },
		{ "power", required_argument, NULL, O_POWER },
		{ "cmdline", required_argument, NULL, O_CMDLINE },
		{ "sysfs", required_argument, NULL, O_SYSFS },
		{ "instance-id", required_argument, NULL, O_ID },
		{ "log", required_argument, NULL, O_LOG },
		{ "header-timeout", required_argument, NULL, O_HTO },
		{ "idle-timeout", required_argument, NULL, O_ITO },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_config cfg = {
		.http_port = 80, .http_addr = htonl(INADDR_ANY), .vsock = true,
		.host_cid = 2, .ready_port = 1024, .ctl_port = 1025,
		.cmdline_path = "/proc/cmdline", .sysfs = "/sys", .power = AGENT_POWER_INIT,
		.header_timeout_ms = 10000, .idle_timeout_ms = 30000, .notify_fd = -1,
	};
	enum log_level level = LOG_INFO;
	const char *log_to = NULL;
	bool foreground = false;
	struct in_addr ia;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case O_FG: foreground = true; break;
		case O_PORT:
			if (parse_num("--port", optarg, 0, 65535, &v))
				return 2;
			cfg.http_port = (int)v;
			break;
		case O_ADDR:
			if (inet_pton(AF_INET, optarg, &ia) != 1) {
				fprintf(stderr, "haneul-agent: --http-addr '%s': not an IPv4 address\n", optarg);
				return 2;
			}
			cfg.http_addr = ia.s_addr;
			break;
		case O_NOVSOCK: cfg.vsock = false; break;
		case O_CID:
			if (parse_num("--host-cid", optarg, 1, 0xfffffffeL, &v))
				return 2;
			cfg.host_cid = (unsigned)v;
			break;
		case O_RPORT:
		case O_CPORT:
			if (parse_num(c == O_RPORT ? "--ready-port" : "--ctl-port", optarg, 1, 0xfffffffeL, &v))
				return 2;
			*(c == O_RPORT ? &cfg.ready_port : &cfg.ctl_port) = (unsigned)v;
			break;
		case O_HTO:
		case O_ITO:
			if (parse_num(c == O_HTO ? "--header-timeout" : "--idle-timeout", optarg, 100,
				      3600000, &v))
				return 2;
			*(c == O_HTO ? &cfg.header_timeout_ms : &cfg.idle_timeout_ms) = (int)v;
			break;
		case O_UNIX: cfg.unix_base = optarg; break;
		case O_POWER:
			if (!strcmp(optarg, "init"))
				cfg.power = AGENT_POWER_INIT;
			else if (!strcmp(optarg, "direct"))
				cfg.power = AGENT_POWER_DIRECT;
			else if (!strcmp(optarg, "none"))
				cfg.power = AGENT_POWER_NONE;
			else {
				fprintf(stderr, "haneul-agent: --power '%s': must be init, direct or none\n", optarg);
				return 2;
			}
			break;
		case O_CMDLINE: cfg.cmdline_path = optarg; break;
		case O_SYSFS: cfg.sysfs = optarg; break;
		case O_ID: cfg.instance_id = optarg; break;
		case O_LOG:
			if (strcmp(optarg, "kmsg") && strcmp(optarg, "stderr")) {
				fprintf(stderr, "haneul-agent: --log '%s': must be kmsg or stderr\n", optarg);
				return 2;
			}
			log_to = optarg;
			break;
		case 'v': level = LOG_DEBUG; break;
		case O_HELP:
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "haneul-agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cfg.instance_id && !kcmd_id_valid(cfg.instance_id, strlen(cfg.instance_id))) {
		fprintf(stderr, "haneul-agent: --instance-id: must be 1..64 of [A-Za-z0-9-]\n");
		return 2;
	}
	if (!log_to)
		log_to = foreground ? "stderr" : "kmsg";
	log_init("haneul-agent", level);
	if (!strcmp(log_to, "kmsg")) {
		/* One write(2) per message (common/log.c) = one kernel log record. */
		int kfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);

		if (kfd >= 0) {
			dup2(kfd, 2);
			close(kfd);
		}
	}
	if (!foreground) {
		int nfd = daemonize();
		int lfd = -1;

		if (nfd < 0) {
			log_err("daemonize: %s", strerror(-nfd));
			return 1;
		}
		cfg.notify_fd = nfd;
		if (!strcmp(log_to, "stderr") || !strcmp(log_to, "kmsg"))
			lfd = dup(2);
		redirect_stdio(lfd);
	}
	return agent_run(&cfg);
}
