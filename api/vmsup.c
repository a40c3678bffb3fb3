/* api/vmsup.c - spawn, probe and control detached haneul-vmm processes (see vmsup.h). */
#include "api/vmsup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define RUN_PATH (PATH_MAX + 32)

static void run_path(char *out, const char *dir, const char *name)
{
	snprintf(out, RUN_PATH, "%s/%s", dir, name);
}

int vmsup_build_argv(const struct vmsup_spec *s, const char **a, struct vmsup_argbuf *b)
{
	size_t n = 0, i;

#define ADD(x) do { if (n >= VMSUP_MAX_ARGS - 1) return -E2BIG; a[n++] = (x); } while (0)
	ADD(s->vmm);
	if (s->resume_dir) {
		ADD("--resume");
		ADD(s->resume_dir);
	} else {
		ADD("--kernel");
		ADD(s->kernel);
		if (s->initrd) {
			ADD("--initrd");
			ADD(s->initrd);
		}
		if (s->cmdline) {
			ADD("--cmdline");
			ADD(s->cmdline);
		}
		snprintf(b->num[0], 32, "%u", s->vcpus ? s->vcpus : 1);
		snprintf(b->num[1], 32, "%uM", s->mem_mib ? s->mem_mib : 64);
		snprintf(b->num[2], 32, "%u", s->shutdown_timeout_s);
		ADD("--vcpus");
		ADD(b->num[0]);
		ADD("--mem");
		ADD(b->num[1]);
		ADD("--shutdown-timeout");
		ADD(b->num[2]);
	}
	run_path(b->ctl, s->run_dir, "ctl.sock");
	run_path(b->log, s->run_dir, "console.log");
	ADD("--console");
	ADD("stdout"); /* stdin = console.in, stdout = /dev/null (console.log has it) */
	ADD("--control");
	ADD(b->ctl);
	ADD("--console-log");
	ADD(b->log);
	for (i = 0; i < s->n_extra; i++)
		ADD(s->extra[i]);
#undef ADD
	a[n] = NULL;
	return (int)n;
}

static int read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -EIO;
	buf[r] = '\0';
	return 0;
}

static pid_t read_pid(const char *dir, const char *name)
{
	char p[RUN_PATH], buf[32];
	long v;
	char *end;

	run_path(p, dir, name);
	if (read_small(p, buf, sizeof(buf)))
		return 0;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || v <= 1 || v > INT_MAX)
		return 0;
	return (pid_t)v;
}

int vmsup_parse_exit(const char *s, int *status)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n') || v < 0 || v > 255)
		return -EINVAL;
	*status = (int)v;
	return 0;
}

/* A live process that is this run's VMM (pid reuse after a host reboot is
 * ruled out by its command name).  A zombie (ended, not yet reaped) has an
 * empty cmdline: not "alive" here, its reaper answers for it. */
static bool vmm_alive(pid_t pid)
{
	char p[64], buf[512];
	const char *base;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;
	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	if (read_small(p, buf, sizeof(buf)) || !buf[0])
		return false;
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	return strncmp(base, "haneul-vmm", 10) == 0;
}

int vmsup_probe(const char *dir, struct vmsup_probe *p)
{
	char path[RUN_PATH], buf[32];
	pid_t rp;

	memset(p, 0, sizeof(*p));
	run_path(path, dir, "exit");
	p->pid = read_pid(dir, "vmm.pid");
	if (read_small(path, buf, sizeof(buf)) == 0 && vmsup_parse_exit(buf, &p->status) == 0) {
		p->state = VMSUP_EXITED;
		return 0;
	}
	if (!p->pid) {
		p->state = VMSUP_ABSENT;
		return 0;
	}
	if (vmm_alive(p->pid)) {
		p->state = VMSUP_ALIVE;
		return 0;
	}
	rp = read_pid(dir, "reaper.pid");
	if (rp > 0 && (kill(rp, 0) == 0 || errno == EPERM)) {
		/* The reaper will record the status in a moment: re-read once. */
		if (read_small(path, buf, sizeof(buf)) == 0 && vmsup_parse_exit(buf, &p->status) == 0)
			p->state = VMSUP_EXITED;
		else
			p->state = VMSUP_ALIVE;
		return 0;
	}
	if (read_small(path, buf, sizeof(buf)) == 0 && vmsup_parse_exit(buf, &p->status) == 0)
		p->state = VMSUP_EXITED;
	else
		p->state = VMSUP_LOST;
	return 0;
}

int vmsup_reset(const char *dir)
{
	static const char *const names[] = { "exit", "vmm.pid", "reaper.pid", "ctl.sock", "exit.tmp", "vmm.pid.tmp" };
	char p[RUN_PATH];
	size_t i;

	if (vmm_alive(read_pid(dir, "vmm.pid")))
		return -EBUSY;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		run_path(p, dir, names[i]);
		if (unlink(p) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int vmsup_kill(const char *dir, int sig)
{
	pid_t pid = read_pid(dir, "vmm.pid");

	if (!vmm_alive(pid))
		return -ESRCH;
	return kill(pid, sig) < 0 ? -errno : 0;
}

/* ---- the reaper (async-signal-safe code only: it runs in a fork of a
 * multi-threaded process) ----------------------------------------------------- */

static size_t fmt_uint(char *out, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n++] = '\n';
	return n;
}

/* Writes "v\n" to tmp then renames it to path (atomic for readers).  No
 * fsync: these files only have to outlive processes (haneuld's crash), not
 * the host, whose reboot ends the VMMs they describe anyway; an fsync here
 * cost tens of ms per launch. */
static void write_num_file(const char *tmp, const char *path, unsigned long v)
{
	char buf[32];
	size_t n = fmt_uint(buf, v);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	if (write(fd, buf, n) != (ssize_t)n) {
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	rename(tmp, path);
}

struct reaper_paths {
	char pid[RUN_PATH], pid_tmp[RUN_PATH], rpid[RUN_PATH], rpid_tmp[RUN_PATH];
	char exit[RUN_PATH], exit_tmp[RUN_PATH], log[RUN_PATH], fifo[RUN_PATH];
};

static __attribute__((noreturn)) void reaper_main(const struct reaper_paths *rp, const char *vmm,
						   char *const *argv, int notify_fd)
{
	sigset_t none;
	pid_t vpid;
	int st, code, nul, logfd, in;

	/* Keep only the notify pipe: haneuld's listening socket, pid-file lock
	 * and database must not stay open in a process that outlives it. */
	if (notify_fd != 3) {
		dup2(notify_fd, 3);
		close(notify_fd);
	}
	close_range(4, ~0u, 0);
	nul = open("/dev/null", O_RDWR);
	logfd = open(rp->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	/* O_RDWR: never blocks, and the VMM never sees end-of-file. */
	in = open(rp->fifo, O_RDWR);
	if (nul < 0 || logfd < 0 || in < 0)
		_exit(127);
	/* The reaper itself keeps nothing of haneuld's stdio either (a pipe
	 * held open here would never see end-of-file). */
	dup2(nul, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	vpid = fork();
	if (vpid < 0)
		_exit(127);
	if (vpid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(in, 0);
		dup2(nul, 1);
		dup2(logfd, 2);
		close_range(3, ~0u, 0);
		execv(vmm, argv);
		_exit(127);
	}
	close(nul);
	close(logfd);
	close(in);
	write_num_file(rp->rpid_tmp, rp->rpid, (unsigned long)getpid());
	write_num_file(rp->pid_tmp, rp->pid, (unsigned long)vpid);
	if (write(3, "k", 1) < 0) { /* haneuld may have gone: nothing to tell */ }
	close(3);
	while (waitpid(vpid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
	write_num_file(rp->exit_tmp, rp->exit, (unsigned long)code);
	_exit(0);
}

int vmsup_spawn(const struct vmsup_spec *spec, pid_t *pid)
{
	const char *args[VMSUP_MAX_ARGS];
	struct vmsup_argbuf *ab = NULL;
	char dummy;
	struct reaper_paths *rp;
	int fds[2] = { -1, -1 }, err, st, n;
	pid_t child;
	ssize_t r;

	if (access(spec->vmm, X_OK) < 0)
		return -errno;
	rp = calloc(1, sizeof(*rp));
	ab = calloc(1, sizeof(*ab));
	if (!rp || !ab) {
		err = -ENOMEM;
		goto out;
	}
	n = vmsup_build_argv(spec, args, ab);
	if (n < 0) {
		err = n;
		goto out;
	}
	run_path(rp->pid, spec->run_dir, "vmm.pid");
	run_path(rp->pid_tmp, spec->run_dir, "vmm.pid.tmp");
	run_path(rp->rpid, spec->run_dir, "reaper.pid");
	run_path(rp->rpid_tmp, spec->run_dir, "reaper.pid.tmp");
	run_path(rp->exit, spec->run_dir, "exit");
	run_path(rp->exit_tmp, spec->run_dir, "exit.tmp");
	run_path(rp->log, spec->run_dir, "vmm.log");
	run_path(rp->fifo, spec->run_dir, "console.in");
	err = vmsup_reset(spec->run_dir);
	if (!err)
		err = vmsup_console_rotate(spec->run_dir);
	if (err)
		goto out;
	if (mkfifo(rp->fifo, 0600) < 0 && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	child = fork();
	if (child < 0) {
		err = -errno;
		goto out;
	}
	if (child == 0) {
		/* Intermediate: a new session, then the reaper as its child, then
		 * exit at once so haneuld reaps it now and the reaper is init's. */
		pid_t r2;

		close(fds[0]);
		setsid();
		r2 = fork();
		if (r2 != 0)
			_exit(r2 < 0 ? 1 : 0);
		reaper_main(rp, spec->vmm, (char *const *)args, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	do
		r = read(fds[0], &dummy, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1) {
		err = -ECHILD; /* the reaper died before starting the VMM */
		goto out;
	}
	*pid = read_pid(spec->run_dir, "vmm.pid");
	err = *pid ? 0 : -EIO;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(rp);
	free(ab);
	return err;
}

/* ---- control socket ---------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int vmsup_ctl(const char *dir, const char *request, unsigned timeout_ms, struct json_object **reply)
{
	struct sockaddr_un sa;
	struct strbuf in = STRBUF_INIT;
	struct json_object *o = NULL, *ok;
	long deadline = now_ms() + timeout_ms;
	size_t len = strlen(request), off = 0;
	int fd, err;

	*reply = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	while (off <= len) {
		const char *p = off < len ? request + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		off += (size_t)w;
		if (off > len)
			break;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long left = deadline - now_ms();
		char buf[4096];
		ssize_t r;

		if (in.len && memchr(in.p, '\n', in.len))
			break;
		if (left <= 0) {
			err = -ETIMEDOUT;
			goto out;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = -EPROTO;
			goto out;
		}
		sb_append(&in, buf, (size_t)r);
		if (sb_oom(&in) || in.len > (1u << 20)) {
			err = -ENOMEM;
			goto out;
		}
	}
	o = json_tokener_parse(sb_cstr(&in));
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "ok", &ok)) {
		err = -EPROTO;
		goto out;
	}
	err = json_object_get_boolean(ok) ? 0 : -EREMOTEIO;
	*reply = o;
	o = NULL;
out:
	json_object_put(o);
	sb_free(&in);
	close(fd);
	return err;
}

static void b64_append(struct strbuf *out, const unsigned char *p, size_t n)
{
	size_t need = 4 * ((n + 2) / 3) + 1;

	if (sb_reserve(out, need))
		return;
	out->len += (size_t)EVP_EncodeBlock((unsigned char *)out->p + out->len, p, (int)n);
	out->p[out->len] = '\0';
}

/* Reads the last min(max, size) bytes of path into buf; *n gets the count
 * (0 for a missing file).  0 or -errno. */
static int read_tail(const char *path, size_t max, unsigned char *buf, size_t *n)
{
	struct stat st;
	off_t from;
	ssize_t r;
	int fd;

	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return (int)r;
	}
	from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	r = max ? pread(fd, buf, max, from) : 0;
	close(fd);
	if (r < 0)
		return -EIO;
	*n = (size_t)r;
	return 0;
}

int vmsup_console_rotate(const char *dir)
{
	char log[RUN_PATH], prev[RUN_PATH], tmp[RUN_PATH];
	unsigned char *buf = malloc(2 * (size_t)VMSUP_CONSOLE_KEEP);
	size_t np = 0, nl = 0, keep;
	struct stat st;
	int fd, err;

	if (!buf)
		return -ENOMEM;
	run_path(log, dir, "console.log");
	run_path(prev, dir, "console.prev");
	run_path(tmp, dir, "console.prev.tmp");
	if (stat(log, &st) < 0) {
		err = errno == ENOENT ? 0 : -errno; /* nothing new to keep */
		goto out;
	}
	err = read_tail(prev, VMSUP_CONSOLE_KEEP, buf, &np);
	if (!err)
		err = read_tail(log, VMSUP_CONSOLE_KEEP, buf + np, &nl);
	if (err)
		goto out;
	keep = np + nl > VMSUP_CONSOLE_KEEP ? VMSUP_CONSOLE_KEEP : np + nl;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (write(fd, buf + np + nl - keep, keep) != (ssize_t)keep) {
		err = -EIO;
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, prev) < 0) {
		err = -errno;
		unlink(tmp);
		goto out;
	}
	/* Kept: a spawn that fails now must not keep the same bytes twice. */
	if (unlink(log) < 0 && errno != ENOENT)
		err = -errno;
out:
	free(buf);
	return err;
}

static size_t b64_decode(const char *in, unsigned char *out, size_t max)
{
	size_t len = strlen(in), pad = 0;
	int n;

	if (len % 4 || len / 4 * 3 > max)
		return 0;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return 0;
	if (len && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	return (size_t)n - pad;
}

int vmsup_console_b64(const char *dir, size_t max, struct strbuf *out, size_t *total)
{
	struct json_object *r = NULL, *v;
	char req[64], path[RUN_PATH];
	unsigned char *buf, *cur;
	size_t nc = 0, np = 0;
	bool live = false;
	int err = 0;

	*total = 0;
	/* prev part first, current part after it: buf = [max][max + 3]. */
	buf = malloc(2 * (max ? max : 1) + 3);
	if (!buf)
		return -ENOMEM;
	cur = buf + max;
	snprintf(req, sizeof(req), "{\"cmd\":\"console\",\"bytes\":%zu}", max);
	if (vmsup_ctl(dir, req, 2000, &r) == 0 && json_object_object_get_ex(r, "base64", &v)) {
		nc = b64_decode(json_object_get_string(v), cur, max + 3);
		live = true;
	}
	json_object_put(r);
	if (!live) {
		run_path(path, dir, "console.log");
		err = read_tail(path, max, cur, &nc);
	}
	if (nc > max) {
		memmove(cur, cur + nc - max, max);
		nc = max;
	}
	/* Output of earlier starts of this instance (vmsup_console_rotate). */
	if (!err && nc < max) {
		run_path(path, dir, "console.prev");
		err = read_tail(path, max - nc, buf, &np);
		if (!err && np && np < max)
			memmove(cur - np, buf, np);
	}
	if (!err && np + nc) {
		b64_append(out, cur - np, np + nc);
		*total = np + nc;
	}
	free(buf);
	return err ? err : sb_oom(out) ? -ENOMEM : 0;
}
