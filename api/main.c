/* api/main.c - haneuld: the control plane's HTTP front door.
 *
 *   haneuld [--data-dir DIR] [--listen ADDR:PORT] [--region NAME] [--threads N]
 *           [--vmm PATH] [--images DIR] [--stop-timeout S] [--tiny-mem MIB]
 *           [--lb PATH] [--metric-period S] [-v]
 *
 * EC2 instances are haneul-vmm processes (api/ec2.h); by default the VMM and
 * the images are taken from haneuld's own directory (the build output).
 *
 * Logs go to stderr.  SIGTERM/SIGINT stop it cleanly: no new connections,
 * requests in flight finish, the database is closed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include "api/api.h"
#include "api/asg.h"
#include "api/cw.h"
#include "api/ec2.h"
#include "api/elbv2.h"
#include "api/http.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: haneuld [options]\n"
		"  --data-dir DIR      state, keys and root credentials (default ~/.haneul)\n"
		"  --listen ADDR:PORT  listening address (default " API_DEFAULT_LISTEN "; port 0 = any)\n"
		"  --region NAME       region (default " API_DEFAULT_REGION ")\n"
		"  --threads N         HTTP worker threads (default 4)\n"
		"  --vmm PATH          haneul-vmm for EC2 instances (default: next to haneuld)\n"
		"  --images DIR        guest images: tiny/tiny.elf, linux/vmlinuz (default: DIR_OF_HANEULD/images)\n"
		"  --stop-timeout S    graceful stop before forcing an instance off (default 30)\n"
		"  --tiny-mem MIB      memory of haneul-tiny instances (default 64)\n"
		"  --lb PATH           haneul-lb for ELBv2 (default: next to haneuld; none: no data plane)\n"
		"  --metric-period S   CloudWatch metric period, 1..3600 s (default 60, or $HANEUL_METRIC_PERIOD)\n"
		"  -v, --verbose       debug logging\n");
}

/* Locks DATA_DIR/haneuld.pid so two daemons never share a data dir; the fd
 * stays open (and locked) for the life of the process. */
static int pidfile_lock(const char *dir, char *path, size_t n)
{
	char buf[32];
	int fd, len;

	snprintf(path, n, "%s/haneuld.pid", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -EBUSY;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* dirname(/proc/self/exe)/name into out. */
static void beside_self(const char *name, char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len <= 0) {
		snprintf(out, n, "%s", name);
		return;
	}
	self[len] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, n, "%.*s/%s", PATH_MAX - 32, self, name) >= n)
		out[n - 1] = '\0';
}

static int write_endpoint(const char *dir, const char *host, uint16_t port, char *path, size_t n)
{
	char tmp[PATH_MAX + 64];
	FILE *f;

	snprintf(path, n, "%s/endpoint", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (strchr(host, ':'))
		fprintf(f, "http://[%s]:%u\n", host, port);
	else
		fprintf(f, "http://%s:%u\n", host, port);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "region", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "vmm", required_argument, NULL, 'V' },
		{ "images", required_argument, NULL, 'I' },
		{ "stop-timeout", required_argument, NULL, 'S' },
		{ "tiny-mem", required_argument, NULL, 'M' },
		{ "lb", required_argument, NULL, 'L' },
		{ "metric-period", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char data_dir[PATH_MAX], pid_path[PATH_MAX + 32], ep_path[PATH_MAX + 32], host[128];
	const char *listen = API_DEFAULT_LISTEN, *region = API_DEFAULT_REGION, *dd = NULL;
	struct http_config cfg = { NULL, 4, 30, 1024, API_MAX_BODY };
	struct http_server *srv = NULL;
	char vmm_path[PATH_MAX], images_dir[PATH_MAX];
	struct ec2_config ec2cfg = { vmm_path, images_dir, true, 30, 64 };
	char lb_path[PATH_MAX];
	struct elbv2_config elbcfg = { lb_path, 2 };
	struct asg_config asgcfg = { true };
	long period = getenv("HANEUL_METRIC_PERIOD") ? atol(getenv("HANEUL_METRIC_PERIOD")) : 60;
	struct api api;
	enum log_level level = LOG_INFO;
	sigset_t set;
	uint16_t port;
	int c, sig, pid_fd, err, rc = 1;

	beside_self("haneul-vmm", vmm_path, sizeof(vmm_path));
	beside_self("haneul-lb", lb_path, sizeof(lb_path));
	beside_self("images", images_dir, sizeof(images_dir));
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dd = optarg; break;
		case 'l': listen = optarg; break;
		case 'r': region = optarg; break;
		case 't': cfg.threads = (unsigned)atoi(optarg); break;
		case 'V': snprintf(vmm_path, sizeof(vmm_path), "%s", optarg); break;
		case 'I': snprintf(images_dir, sizeof(images_dir), "%s", optarg); break;
		case 'S': ec2cfg.stop_timeout_s = (unsigned)atoi(optarg); break;
		case 'M': ec2cfg.tiny_mem_mib = (unsigned)atoi(optarg); break;
		case 'L': snprintf(lb_path, sizeof(lb_path), "%s", optarg); break;
		case 'P': period = atol(optarg); break;
		case 'v': level = LOG_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (strcmp(lb_path, "none") == 0)
		elbcfg.lb_bin = NULL;
	if (optind != argc || period < 1 || period > 3600 || cfg.threads < 1 || cfg.threads > 256 || ec2cfg.stop_timeout_s < 1 ||
	    ec2cfg.stop_timeout_s > 3600 || ec2cfg.tiny_mem_mib < 16 || ec2cfg.tiny_mem_mib > 4096) {
		usage(stderr);
		return 2;
	}
	log_init("haneuld", level);
	if (!dd) {
		const char *home = getenv("HOME");

		if (!home) {
			log_err("HOME is not set: pass --data-dir");
			return 2;
		}
		snprintf(data_dir, sizeof(data_dir), "%s/.haneul", home);
	} else {
		snprintf(data_dir, sizeof(data_dir), "%s", dd);
	}
	if (http_parse_listen(listen, host, sizeof(host), &port)) {
		log_err("bad --listen '%s' (want ADDR:PORT)", listen);
		return 2;
	}
	cfg.listen = listen;

	/* Signals are taken synchronously by sigwait(); worker threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(077); /* state.db and friends hold (sealed) secrets */

	if (access(data_dir, F_OK) != 0 && mkdir(data_dir, 0700) != 0) {
		log_err("cannot create %s: %s", data_dir, strerror(errno));
		return 1;
	}
	pid_fd = pidfile_lock(data_dir, pid_path, sizeof(pid_path));
	if (pid_fd < 0) {
		log_err(pid_fd == -EBUSY ? "another haneuld is running with data dir %s" : "cannot write pid file in %s",
			data_dir);
		return 1;
	}
	err = api_init(&api, data_dir, region);
	if (err)
		goto out_pid;
	err = ec2_new(&api, &ec2cfg);
	if (err)
		goto out_api;
	err = ec2_start(&api);
	if (err)
		goto out_ec2;
	/* ELBv2 (haneul-lb), CloudWatch and Auto Scaling: one fleet thread. */
	err = elbv2_new(&api, &elbcfg);
	if (!err)
		err = cw_new(&api, (unsigned)period);
	if (!err)
		err = asg_new(&api, &asgcfg);
	if (!err)
		err = asg_start(&api);
	if (err)
		goto out_fleet;
	err = http_start(&api, &cfg, &srv);
	if (err)
		goto out_fleet;
	if (write_endpoint(data_dir, host, http_port(srv), ep_path, sizeof(ep_path)))
		log_warn("cannot write %s/endpoint", data_dir);
	log_info("listening on %s:%u, region %s, account %s, data dir %s", host, http_port(srv), api.region,
		 api.account_id, data_dir);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue; /* nothing to reload yet */
		break;
	}
	log_info("signal %d: shutting down", sig);
	http_stop(srv);
	unlink(ep_path);
	rc = 0;
out_fleet:
	asg_free(&api); /* haneul-lb and the instances keep running */
	cw_free(&api);
	elbv2_free(&api);
out_ec2:
	ec2_free(&api); /* the VMMs keep running: a later haneuld re-adopts them */
out_api:
	api_fini(&api);
out_pid:
	unlink(pid_path);
	close(pid_fd);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
