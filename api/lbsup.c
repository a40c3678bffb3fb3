/* api/lbsup.c - spawn / adopt / talk to haneul-lb (see lbsup.h). */
#include "api/lbsup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/vmsup.h"
#include "common/log.h"

int lbsup_init(struct lbsup *s, const char *bin, const char *data_dir, unsigned workers)
{
	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(s->bin, sizeof(s->bin), "%s", bin) >= sizeof(s->bin) ||
	    (size_t)snprintf(s->dir, sizeof(s->dir), "%s/lb", data_dir) >= sizeof(s->dir) - 16)
		return -ENAMETOOLONG;
	s->workers = workers ? workers : 1;
	if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int lbsup_call(struct lbsup *s, const char *request, unsigned timeout_ms, struct json_object **reply)
{
	return vmsup_ctl(s->dir, request, timeout_ms, reply);
}

static bool ping(struct lbsup *s)
{
	struct json_object *r = NULL;
	int err = lbsup_call(s, "{\"cmd\":\"ping\"}", 1000, &r);

	json_object_put(r);
	return err == 0;
}

/* The pid in lb.pid if that process is a haneul-lb; else 0. */
static pid_t read_pid(struct lbsup *s)
{
	char path[PATH_MAX + 32], cmd[256];
	long pid = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/lb.pid", s->dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	/* argv[0] ends in "haneul-lb" (a reused pid is someone else). */
	if (n < 9 || strcmp(cmd + strlen(cmd) - (strlen(cmd) >= 9 ? 9 : 0), "haneul-lb") != 0)
		return 0;
	return (pid_t)pid;
}

static int spawn(struct lbsup *s)
{
	char ctl[PATH_MAX + 32], logp[PATH_MAX + 32], pidp[PATH_MAX + 32], workers[16];
	pid_t mid;
	int st;

	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", s->dir);
	snprintf(logp, sizeof(logp), "%s/lb.log", s->dir);
	snprintf(pidp, sizeof(pidp), "%s/lb.pid", s->dir);
	snprintf(workers, sizeof(workers), "%u", s->workers);
	if (access(s->bin, X_OK) != 0)
		return -ENOENT;
	mid = fork();
	if (mid < 0)
		return -errno;
	if (mid == 0) {
		/* Intermediate: new session, fork the real one and exit, so haneul-lb
		 * is reparented to init and never becomes our zombie. */
		sigset_t none;
		pid_t pid;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
		{
			int fd = open("/dev/null", O_RDONLY), lf = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
			FILE *pf;

			if (fd < 0 || lf < 0 || dup2(fd, 0) < 0 || dup2(lf, 1) < 0 || dup2(lf, 2) < 0)
				_exit(127);
			for (int i = 3; i < 1024; i++)
				close(i);
			pf = fopen(pidp, "w");
			if (!pf || fprintf(pf, "%ld\n", (long)getpid()) < 0 || fclose(pf) != 0)
				_exit(127);
			execl(s->bin, s->bin, "--control", ctl, "--workers", workers, (char *)NULL);
			_exit(127);
		}
	}
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -ECHILD;
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (ping(s)) {
			s->pid = read_pid(s);
			log_info("lb: started haneul-lb pid %ld", (long)s->pid);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	log_err("lb: haneul-lb did not answer on %s (see %s)", ctl, logp);
	return -ETIMEDOUT;
}

int lbsup_ensure(struct lbsup *s, bool *adopted)
{
	pid_t pid;

	*adopted = false;
	if (ping(s)) {
		if (!s->pid) {
			s->pid = read_pid(s);
			*adopted = true;
			log_info("lb: adopted haneul-lb pid %ld", (long)s->pid);
		}
		return 0;
	}
	pid = read_pid(s);
	if (pid) {
		log_warn("lb: haneul-lb pid %ld does not answer: restarting it", (long)pid);
		kill(pid, SIGKILL);
	}
	s->pid = 0;
	*adopted = true; /* a fresh process: push the configuration */
	if (time(NULL) < s->retry_at)
		return -EAGAIN;
	{
		int err = spawn(s);

		if (err)
			s->retry_at = time(NULL) + 5;
		return err;
	}
}

bool lbsup_stop(struct lbsup *s)
{
	pid_t pid = read_pid(s);

	s->pid = 0;
	if (!pid)
		return false;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	return true;
}
