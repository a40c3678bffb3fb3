/* api/cli.c - haneul: the command-line client.
 *
 *   haneul [--data-dir DIR] up [--listen ADDR:PORT] [--region NAME]
 *   haneul [--data-dir DIR] down | status
 *   haneul [opts] call SERVICE ACTION [Name=Value ...]   e.g. call iam ListUsers
 *   haneul [opts] whoami                                  (sts GetCallerIdentity)
 *
 * opts: --endpoint-url URL, --profile NAME, --region NAME.  Calls are signed
 * with SigV4 from an AWS credentials file: $AWS_SHARED_CREDENTIALS_FILE,
 * else ~/.aws/credentials, else DATA_DIR/root-credentials. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/query.h"
#include "api/sigv4.h"
#include "common/strbuf.h"

struct cli {
	char data_dir[PATH_MAX];
	const char *endpoint;
	const char *profile;
	const char *region;
	const char *listen;
};

static const struct {
	const char *service;
	const char *version;
} versions[] = {
	{ "iam", "2010-05-08" },
	{ "sts", "2011-06-15" },
	{ "ec2", "2016-11-15" },
	{ "elasticloadbalancing", "2015-12-01" },
	{ "elbv2", "2015-12-01" },
	{ "autoscaling", "2011-01-01" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: haneul [--data-dir DIR] up [--listen ADDR:PORT] [--region NAME]\n"
		"       haneul [--data-dir DIR] down | status\n"
		"       haneul [--endpoint-url URL] [--profile P] [--region R] call SERVICE ACTION [Name=Value ...]\n"
		"       haneul [...] whoami\n"
		"default data dir ~/.haneul, default endpoint from DATA_DIR/endpoint or http://" API_DEFAULT_LISTEN "\n");
}

/* ---- daemon control ----------------------------------------------------------- */

/* pid of the haneuld holding the data dir's pid-file lock, 0 if none. */
static long running_pid(const struct cli *c)
{
	char path[PATH_MAX + 32], buf[32] = "";
	long pid = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/haneuld.pid", c->data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd); /* lock free: nobody runs there */
		return 0;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
	}
	close(fd);
	return pid > 0 ? pid : -1;
}

static int read_endpoint(const struct cli *c, char *out, size_t n)
{
	char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/endpoint", c->data_dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(out, (int)n, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static void haneuld_path(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len > 0) {
		char *slash;

		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(out, n, "%s/haneuld", self);
			if (access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, n, "haneuld"); /* from PATH */
}

static int cmd_up(struct cli *c)
{
	char exe[PATH_MAX + 16], logp[PATH_MAX + 32], ep[256], cmdp[PATH_MAX + 32];
	long pid = running_pid(c);
	pid_t child;
	int i;

	if (pid) {
		if (read_endpoint(c, ep, sizeof(ep)))
			snprintf(ep, sizeof(ep), "(unknown)");
		printf("haneuld already running (pid %ld), endpoint %s\n", pid, ep);
		return 0;
	}
	if (mkdir(c->data_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "haneul: cannot create %s: %s\n", c->data_dir, strerror(errno));
		return 1;
	}
	snprintf(cmdp, sizeof(cmdp), "%s/endpoint", c->data_dir);
	unlink(cmdp); /* stale after a crash */
	haneuld_path(exe, sizeof(exe));
	snprintf(logp, sizeof(logp), "%s/haneuld.log", c->data_dir);
	child = fork();
	if (child < 0) {
		perror("haneul: fork");
		return 1;
	}
	if (child == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nul = open("/dev/null", O_RDONLY);

		if (fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		setsid();
		/* Double fork: haneuld is not our child, no zombie if we exit first. */
		if (fork() != 0)
			_exit(0);
		execlp(exe, "haneuld", "--data-dir", c->data_dir, "--listen", c->listen ? c->listen : API_DEFAULT_LISTEN,
		       "--region", c->region ? c->region : API_DEFAULT_REGION, (char *)NULL);
		_exit(127);
	}
	waitpid(child, NULL, 0);
	for (i = 0; i < 100; i++) {
		if ((pid = running_pid(c)) > 0 && read_endpoint(c, ep, sizeof(ep)) == 0) {
			printf("haneuld running (pid %ld)\n"
			       "endpoint:          %s\n"
			       "root credentials:  %s/root-credentials  (profile [default]; manages IAM only)\n"
			       "log:               %s\n"
			       "try:\n"
			       "  export AWS_SHARED_CREDENTIALS_FILE=%s/root-credentials AWS_CONFIG_FILE=%s/config\n"
			       "  aws --endpoint-url %s iam list-users\n",
			       pid, ep, c->data_dir, logp, c->data_dir, c->data_dir, ep);
			return 0;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "haneul: haneuld did not come up; see %s\n", logp);
	return 1;
}

static int cmd_down(struct cli *c)
{
	long pid = running_pid(c);
	int i;

	if (pid == 0) {
		printf("haneuld is not running\n");
		return 0;
	}
	if (pid < 0 || kill((pid_t)pid, SIGTERM) < 0) {
		fprintf(stderr, "haneul: cannot signal haneuld (pid %ld)\n", pid);
		return 1;
	}
	for (i = 0; i < 150; i++) {
		if (running_pid(c) == 0) {
			printf("haneuld stopped\n");
			return 0;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "haneul: haneuld (pid %ld) did not stop within 15 s\n", pid);
	return 1;
}

static int cmd_status(struct cli *c)
{
	long pid = running_pid(c);
	char ep[256];

	if (pid == 0) {
		printf("haneuld is not running (data dir %s)\n", c->data_dir);
		return 3; /* LSB "not running" */
	}
	if (read_endpoint(c, ep, sizeof(ep)))
		snprintf(ep, sizeof(ep), "(unknown)");
	printf("haneuld running (pid %ld), endpoint %s, data dir %s\n", pid, ep, c->data_dir);
	return 0;
}

/* ---- signed calls -------------------------------------------------------------- */

struct creds {
	char akid[128];
	char secret[128];
	char token[2048];
};

static void trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		memmove(s, s + 1, strlen(s));
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
}

static int load_creds(const struct cli *c, struct creds *cr)
{
	char path[PATH_MAX + 32], line[4096], section[4096] = "";
	const char *env = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
	const char *profile = c->profile ? c->profile : getenv("AWS_PROFILE");
	bool in = false;
	FILE *f;

	if (!profile)
		profile = "default";
	if (env)
		snprintf(path, sizeof(path), "%s", env);
	else if (home && (snprintf(path, sizeof(path), "%s/.aws/credentials", home), access(path, R_OK) == 0))
		;
	else
		snprintf(path, sizeof(path), "%s/root-credentials", c->data_dir);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "haneul: cannot read credentials file %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(cr, 0, sizeof(*cr));
	while (fgets(line, sizeof(line), f)) {
		char *eq;

		trim(line);
		if (line[0] == '#' || line[0] == ';' || !line[0])
			continue;
		if (line[0] == '[') {
			char *rb = strchr(line, ']');

			if (rb)
				*rb = '\0';
			snprintf(section, sizeof(section), "%s", line + 1);
			trim(section);
			in = strcmp(section, profile) == 0;
			continue;
		}
		eq = strchr(line, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		trim(line);
		trim(eq + 1);
		if (strcmp(line, "aws_access_key_id") == 0)
			snprintf(cr->akid, sizeof(cr->akid), "%s", eq + 1);
		else if (strcmp(line, "aws_secret_access_key") == 0)
			snprintf(cr->secret, sizeof(cr->secret), "%s", eq + 1);
		else if (strcmp(line, "aws_session_token") == 0)
			snprintf(cr->token, sizeof(cr->token), "%s", eq + 1);
	}
	fclose(f);
	if (!cr->akid[0] || !cr->secret[0]) {
		fprintf(stderr, "haneul: profile [%s] in %s has no aws_access_key_id/aws_secret_access_key\n",
			profile, path);
		return -1;
	}
	return 0;
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int cmd_call(struct cli *c, const char *service, const char *action, int argc, char **argv)
{
	char ep[512], host[512], port[512], hostport[512], amz_date[17], body_hash[65];
	const char *version = NULL, *signing = service, *region;
	struct strbuf body = STRBUF_INIT, req = STRBUF_INIT, auth = STRBUF_INIT, resp = STRBUF_INIT;
	struct sigv4_header hdrs[4];
	struct sigv4_request sr;
	struct creds cr;
	char *p, *hp;
	size_t i, nh = 0;
	int fd = -1, ret = 1, status = 0;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(versions[i].service, service) == 0)
			version = versions[i].version;
	if (strcmp(service, "elbv2") == 0)
		signing = "elasticloadbalancing";
	if (!version) {
		fprintf(stderr, "haneul: unknown service '%s' (iam, sts, ec2, elbv2, autoscaling)\n", service);
		return 2;
	}
	if (load_creds(c, &cr))
		return 1;
	if (c->endpoint)
		snprintf(ep, sizeof(ep), "%s", c->endpoint);
	else if (getenv("HANEUL_ENDPOINT"))
		snprintf(ep, sizeof(ep), "%s", getenv("HANEUL_ENDPOINT"));
	else if (read_endpoint(c, ep, sizeof(ep)))
		snprintf(ep, sizeof(ep), "http://%s", API_DEFAULT_LISTEN);
	if (strncmp(ep, "http://", 7) != 0) {
		fprintf(stderr, "haneul: endpoint must be http://HOST:PORT (got %s)\n", ep);
		return 2;
	}
	snprintf(hostport, sizeof(hostport), "%s", ep + 7);
	hostport[strcspn(hostport, "/")] = '\0';
	hp = hostport;
	p = strrchr(hp, ':');
	if (!p || (strchr(hp, ']') && p < strchr(hp, ']'))) {
		snprintf(host, sizeof(host), "%s", hp);
		snprintf(port, sizeof(port), "80");
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)(p - hp), hp);
		snprintf(port, sizeof(port), "%s", p + 1);
	}
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	region = c->region ? c->region : getenv("AWS_REGION") ? getenv("AWS_REGION") :
		 getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : API_DEFAULT_REGION;

	sb_puts(&body, "Action=");
	query_uri_encode(&body, action, strlen(action), false);
	sb_printf(&body, "&Version=%s", version);
	for (i = 0; i < (size_t)argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr, "haneul: parameter '%s' is not Name=Value\n", argv[i]);
			ret = 2;
			goto out;
		}
		sb_putc(&body, '&');
		query_uri_encode(&body, argv[i], (size_t)(eq - argv[i]), false);
		sb_putc(&body, '=');
		query_uri_encode(&body, eq + 1, strlen(eq + 1), false);
	}
	sigv4_format_amz_date(time(NULL), amz_date);
	sigv4_hex_sha256(sb_cstr(&body), body.len, body_hash);
	hdrs[nh++] = (struct sigv4_header){ "content-type", "application/x-www-form-urlencoded; charset=utf-8" };
	hdrs[nh++] = (struct sigv4_header){ "host", hostport };
	hdrs[nh++] = (struct sigv4_header){ "x-amz-date", amz_date };
	if (cr.token[0])
		hdrs[nh++] = (struct sigv4_header){ "x-amz-security-token", cr.token };
	memset(&sr, 0, sizeof(sr));
	sr.method = "POST";
	sr.path = "/";
	sr.headers = hdrs;
	sr.n_headers = nh;
	sr.payload_hash = body_hash;
	if (sigv4_sign(&sr, cr.akid, cr.secret, amz_date, region, signing,
		       cr.token[0] ? "content-type;host;x-amz-date;x-amz-security-token" : "content-type;host;x-amz-date",
		       &auth)) {
		fprintf(stderr, "haneul: cannot sign the request\n");
		goto out;
	}
	sb_printf(&req, "POST / HTTP/1.1\r\n");
	for (i = 0; i < nh; i++)
		sb_printf(&req, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
	sb_printf(&req, "Authorization: %s\r\nContent-Length: %zu\r\nConnection: close\r\nUser-Agent: haneul-cli\r\n\r\n",
		  sb_cstr(&auth), body.len);
	sb_append(&req, sb_cstr(&body), body.len);
	if (sb_oom(&req))
		goto out;
	fd = connect_to(host, port);
	if (fd < 0) {
		fprintf(stderr, "haneul: cannot connect to %s (is haneuld up? try 'haneul up')\n", ep);
		goto out;
	}
	for (i = 0; i < req.len;) {
		ssize_t w = write(fd, req.p + i, req.len - i);

		if (w <= 0) {
			fprintf(stderr, "haneul: write: %s\n", strerror(errno));
			goto out;
		}
		i += (size_t)w;
	}
	for (;;) {
		char buf[8192];
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sb_append(&resp, buf, (size_t)r);
	}
	if (resp.len < 12 || sscanf(sb_cstr(&resp), "HTTP/1.%*d %d", &status) != 1) {
		fprintf(stderr, "haneul: no valid HTTP response from %s\n", ep);
		goto out;
	}
	p = strstr(resp.p, "\r\n\r\n");
	p = p ? p + 4 : resp.p + resp.len;
	if (status >= 200 && status < 300) {
		printf("%s\n", p);
		ret = 0;
	} else {
		fprintf(stderr, "haneul: HTTP %d\n%s\n", status, p);
	}
out:
	if (fd >= 0)
		close(fd);
	sb_free(&body);
	sb_free(&req);
	sb_free(&auth);
	sb_free(&resp);
	return ret;
}

int main(int argc, char **argv)
{
	struct cli c;
	const char *home = getenv("HOME");
	int i = 1;

	memset(&c, 0, sizeof(c));
	snprintf(c.data_dir, sizeof(c.data_dir), "%s/.haneul", home ? home : ".");
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];

		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (strcmp(o, "--data-dir") == 0)
			snprintf(c.data_dir, sizeof(c.data_dir), "%s", argv[++i]);
		else if (strcmp(o, "--endpoint-url") == 0)
			c.endpoint = argv[++i];
		else if (strcmp(o, "--profile") == 0)
			c.profile = argv[++i];
		else if (strcmp(o, "--region") == 0)
			c.region = argv[++i];
		else if (strcmp(o, "--listen") == 0)
			c.listen = argv[++i];
		else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "up") == 0) {
		for (i++; i + 1 < argc; i += 2) {
			if (strcmp(argv[i], "--listen") == 0)
				c.listen = argv[i + 1];
			else if (strcmp(argv[i], "--region") == 0)
				c.region = argv[i + 1];
			else
				break;
		}
		if (i != argc) {
			usage(stderr);
			return 2;
		}
		return cmd_up(&c);
	}
	if (strcmp(argv[i], "down") == 0 && i + 1 == argc)
		return cmd_down(&c);
	if (strcmp(argv[i], "status") == 0 && i + 1 == argc)
		return cmd_status(&c);
	if (strcmp(argv[i], "whoami") == 0 && i + 1 == argc)
		return cmd_call(&c, "sts", "GetCallerIdentity", 0, NULL);
	if (strcmp(argv[i], "call") == 0 && i + 2 < argc)
		return cmd_call(&c, argv[i + 1], argv[i + 2], argc - i - 3, argv + i + 3);
	usage(stderr);
	return 2;
}
