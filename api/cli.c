/* api/cli.c - haneul: the command-line client.
 *
 *   haneul [--data-dir DIR] up [--listen ADDR:PORT] [--region NAME]
 *   haneul [--data-dir DIR] down | status
 *   haneul [opts] call SERVICE ACTION [Name=Value ...]   e.g. call iam ListUsers
 *   haneul [opts] whoami                                  (sts GetCallerIdentity)
 *   haneul [opts] run | ls | stop | start | reboot | terminate | console |
 *                 volume ... | billing               (EC2 shortcuts, cli_ec2.inc)
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

#include <openssl/evp.h>

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
		"       haneul [...] run [--image NAME|AMI] [--type T] [--count N] [--az AZ] [--hibernation]\n"
		"                        [--shutdown-behavior stop|terminate] [--name NAME]\n"
		"       haneul [...] ls | stop [--hibernate] [--force] ID... | start ID... | reboot ID...\n"
		"       haneul [...] terminate ID... | console ID\n"
		"       haneul [...] volume create SIZE_GIB [AZ] | attach VOL ID [DEVICE] | detach VOL [--force]\n"
		"                           | rm VOL | ls\n"
		"       haneul [...] billing [--json] [RESOURCE_ID]\n"
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

/* One signed call.  The 2xx body is printed, or appended to out when out is
 * not NULL; an error is printed on stderr (its Code and Message when the
 * body has them).  0 on 2xx, 1 otherwise, 2 on usage errors. */
static int call_capture(struct cli *c, const char *service, const char *action, int argc, char **argv,
			struct strbuf *out)
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
		if (out)
			sb_puts(out, p);
		else
			printf("%s\n", p);
		ret = 0;
	} else {
		char *code = strstr(p, "<Code>"), *msg = strstr(p, "<Message>");

		if (code && msg)
			fprintf(stderr, "haneul: %.*s: %.*s\n", (int)strcspn(code + 6, "<"), code + 6,
				(int)strcspn(msg + 9, "<"), msg + 9);
		else
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

static int cmd_call(struct cli *c, const char *service, const char *action, int argc, char **argv)
{
	return call_capture(c, service, action, argc, argv, NULL);
}

/* ---- EC2 shortcuts: haneul run/ls/stop/start/reboot/terminate/console/volume/billing */

/* Parameter list builder for call_capture(): "Name=Value" strings. */
struct kv {
	char *v[64];
	int n;
};

static void kv_add(struct kv *k, const char *name, const char *value)
{
	if (k->n < 64 && asprintf(&k->v[k->n], "%s=%s", name, value) > 0)
		k->n++;
}

static void kv_free(struct kv *k)
{
	while (k->n > 0)
		free(k->v[--k->n]);
}

/* The text of the first <tag>...</tag> in [p, end), or "" (no unescaping:
 * EC2 ids, states and numbers need none). */
static void xml_get(const char *p, const char *end, const char *tag, char *out, size_t n)
{
	char open[64];
	const char *s;

	snprintf(open, sizeof(open), "<%s>", tag);
	out[0] = '\0';
	s = strstr(p, open);
	if (!s || (end && s >= end))
		return;
	s += strlen(open);
	snprintf(out, n, "%.*s", (int)strcspn(s, "<"), s);
}

static int ec2_call(struct cli *c, const char *action, struct kv *k, struct strbuf *out)
{
	int r = call_capture(c, "ec2", action, k->n, k->v, out);

	kv_free(k);
	return r;
}

static int ids_call(struct cli *c, const char *action, int argc, char **argv, const char *set)
{
	struct strbuf out = STRBUF_INIT;
	struct kv k = { .n = 0 };
	char name[32];
	const char *p;
	int i, n = 0, r;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--hibernate"))
			kv_add(&k, "Hibernate", "true");
		else if (!strcmp(argv[i], "--force"))
			kv_add(&k, "Force", "true");
		else {
			snprintf(name, sizeof(name), "InstanceId.%d", ++n);
			kv_add(&k, name, argv[i]);
		}
	}
	if (!n) {
		kv_free(&k);
		fprintf(stderr, "haneul: %s needs instance ids\n", action);
		return 2;
	}
	r = ec2_call(c, action, &k, &out);
	if (r == 0 && set) {
		for (p = strstr(sb_cstr(&out), "<instanceId>"); p; p = strstr(p + 1, "<instanceId>")) {
			const char *next = strstr(p + 1, "<instanceId>");
			char id[32], cur[32], prev[32], *cs = strstr(p, "<currentState>"), *ps = strstr(p, "<previousState>");

			xml_get(p, next, "instanceId", id, sizeof(id));
			xml_get(cs ? cs : p, next, "name", cur, sizeof(cur));
			xml_get(ps ? ps : p, next, "name", prev, sizeof(prev));
			printf("%s  %s -> %s\n", id, prev, cur);
		}
	} else if (r == 0) {
		printf("ok\n");
	}
	sb_free(&out);
	return r;
}

static int ec2_ls(struct cli *c)
{
	struct strbuf out = STRBUF_INIT;
	struct kv k = { .n = 0 };
	const char *p;
	int r = ec2_call(c, "DescribeInstances", &k, &out);

	if (r)
		goto out;
	printf("%-20s %-14s %-11s %-16s %-15s %-15s %s\n", "INSTANCE", "STATE", "TYPE", "ZONE", "PRIVATE IP",
	       "PUBLIC IP", "NAME");
	for (p = strstr(sb_cstr(&out), "<instanceId>"); p; p = strstr(p + 1, "<instanceId>")) {
		const char *next = strstr(p + 1, "<instanceId>"), *st = strstr(p, "<instanceState>");
		const char *tag = strstr(p, "<key>Name</key>");
		char id[32], state[32], type[32], az[48], pip[20], ip[20], name[128] = "";

		xml_get(p, next, "instanceId", id, sizeof(id));
		xml_get(st ? st : p, next, "name", state, sizeof(state));
		xml_get(p, next, "instanceType", type, sizeof(type));
		xml_get(p, next, "availabilityZone", az, sizeof(az));
		xml_get(p, next, "privateIpAddress", pip, sizeof(pip));
		xml_get(p, next, "ipAddress", ip, sizeof(ip));
		if (tag && (!next || tag < next))
			xml_get(tag, next, "value", name, sizeof(name));
		printf("%-20s %-14s %-11s %-16s %-15s %-15s %s\n", id, state, type, az, pip[0] ? pip : "-",
		       ip[0] ? ip : "-", name);
	}
out:
	sb_free(&out);
	return r;
}

static int ec2_run(struct cli *c, int argc, char **argv)
{
	struct strbuf out = STRBUF_INIT, im = STRBUF_INIT;
	struct kv k = { .n = 0 };
	const char *image = "haneul-tiny", *type = "t3.micro", *count = "1", *p;
	char ami[32];
	int i, r;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--hibernation")) {
			kv_add(&k, "HibernationOptions.Configured", "true");
			continue;
		}
		if (!v) {
			kv_free(&k);
			fprintf(stderr, "haneul: run: '%s' needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--image"))
			image = v;
		else if (!strcmp(a, "--type"))
			type = v;
		else if (!strcmp(a, "--count"))
			count = v;
		else if (!strcmp(a, "--az"))
			kv_add(&k, "Placement.AvailabilityZone", v);
		else if (!strcmp(a, "--shutdown-behavior"))
			kv_add(&k, "InstanceInitiatedShutdownBehavior", v);
		else if (!strcmp(a, "--name")) {
			kv_add(&k, "TagSpecification.1.ResourceType", "instance");
			kv_add(&k, "TagSpecification.1.Tag.1.Key", "Name");
			kv_add(&k, "TagSpecification.1.Tag.1.Value", v);
		} else {
			kv_free(&k);
			fprintf(stderr, "haneul: run: unknown option '%s'\n", a);
			return 2;
		}
	}
	if (strncmp(image, "ami-", 4) != 0) {
		struct kv q = { .n = 0 };

		kv_add(&q, "Filter.1.Name", "name");
		kv_add(&q, "Filter.1.Value.1", image);
		r = ec2_call(c, "DescribeImages", &q, &im);
		xml_get(sb_cstr(&im), NULL, "imageId", ami, sizeof(ami));
		sb_free(&im);
		if (r || !ami[0]) {
			kv_free(&k);
			if (!r)
				fprintf(stderr, "haneul: no image named '%s'\n", image);
			return 1;
		}
		image = ami;
	}
	kv_add(&k, "ImageId", image);
	kv_add(&k, "InstanceType", type);
	kv_add(&k, "MinCount", count);
	kv_add(&k, "MaxCount", count);
	r = ec2_call(c, "RunInstances", &k, &out);
	for (p = r ? NULL : strstr(sb_cstr(&out), "<instanceId>"); p; p = strstr(p + 1, "<instanceId>")) {
		char id[32];

		xml_get(p, NULL, "instanceId", id, sizeof(id));
		printf("%s\n", id);
	}
	sb_free(&out);
	return r;
}

static int ec2_console(struct cli *c, const char *id)
{
	struct strbuf out = STRBUF_INIT;
	struct kv k = { .n = 0 };
	const char *s;
	int r;

	kv_add(&k, "InstanceId", id);
	r = ec2_call(c, "GetConsoleOutput", &k, &out);
	s = r ? NULL : strstr(sb_cstr(&out), "<output>");
	if (s) {
		size_t n = strcspn(s + 8, "<");
		unsigned char *buf = malloc(n / 4 * 3 + 4);
		int len = buf ? EVP_DecodeBlock(buf, (const unsigned char *)s + 8, (int)n) : -1;

		if (len > 0) {
			/* EVP_DecodeBlock counts the '=' padding as zero bytes. */
			while (n && s[8 + n - 1] == '=' && len > 0) {
				n--;
				len--;
			}
			fwrite(buf, 1, (size_t)len, stdout);
		}
		free(buf);
	}
	sb_free(&out);
	return r;
}

/* The next volume item (its <volumeId> is followed by <size>; an
 * attachment's is not). */
static const char *vol_item(const char *p)
{
	while ((p = strstr(p, "<volumeId>"))) {
		const char *e = strstr(p, "</volumeId>");

		if (!e)
			return NULL;
		if (!strncmp(e + 11, "<size>", 6))
			return p;
		p = e;
	}
	return NULL;
}

static int ec2_volume(struct cli *c, int argc, char **argv)
{
	struct strbuf out = STRBUF_INIT;
	struct kv k = { .n = 0 };
	const char *sub = argc ? argv[0] : "", *p;
	char az[48];
	int r;

	if (!strcmp(sub, "create") && argc >= 2) {
		if (argc >= 3)
			snprintf(az, sizeof(az), "%s", argv[2]);
		else
			snprintf(az, sizeof(az), "%sa", c->region ? c->region : getenv("AWS_DEFAULT_REGION") ?
				 getenv("AWS_DEFAULT_REGION") : API_DEFAULT_REGION);
		kv_add(&k, "Size", argv[1]);
		kv_add(&k, "AvailabilityZone", az);
		r = ec2_call(c, "CreateVolume", &k, &out);
		if (!r) {
			char id[32];

			xml_get(sb_cstr(&out), NULL, "volumeId", id, sizeof(id));
			printf("%s\n", id);
		}
	} else if (!strcmp(sub, "attach") && argc >= 3) {
		kv_add(&k, "VolumeId", argv[1]);
		kv_add(&k, "InstanceId", argv[2]);
		kv_add(&k, "Device", argc >= 4 ? argv[3] : "/dev/sdf");
		r = ec2_call(c, "AttachVolume", &k, &out);
		if (!r)
			printf("ok\n");
	} else if (!strcmp(sub, "detach") && argc >= 2) {
		kv_add(&k, "VolumeId", argv[1]);
		if (argc >= 3 && !strcmp(argv[2], "--force"))
			kv_add(&k, "Force", "true");
		r = ec2_call(c, "DetachVolume", &k, &out);
		if (!r)
			printf("ok\n");
	} else if (!strcmp(sub, "rm") && argc >= 2) {
		kv_add(&k, "VolumeId", argv[1]);
		r = ec2_call(c, "DeleteVolume", &k, &out);
		if (!r)
			printf("ok\n");
	} else if (!strcmp(sub, "ls")) {
		r = ec2_call(c, "DescribeVolumes", &k, &out);
		if (!r)
			printf("%-22s %-6s %-10s %-16s %-20s %s\n", "VOLUME", "GIB", "STATE", "ZONE", "INSTANCE", "DEVICE");
		for (p = r ? NULL : vol_item(sb_cstr(&out)); p; ) {
			const char *next = vol_item(p + 1);
			char id[32], size[16], st[16], zone[48], inst[32], dev[32];

			xml_get(p, next, "volumeId", id, sizeof(id));
			xml_get(p, next, "size", size, sizeof(size));
			xml_get(p, next, "status", st, sizeof(st));
			xml_get(p, next, "availabilityZone", zone, sizeof(zone));
			xml_get(p, next, "instanceId", inst, sizeof(inst));
			xml_get(p, next, "device", dev, sizeof(dev));
			printf("%-22s %-6s %-10s %-16s %-20s %s\n", id, size, st, zone, inst[0] ? inst : "-", dev[0] ? dev : "-");
			p = next;
		}
	} else {
		fprintf(stderr, "haneul: volume create SIZE_GIB [AZ] | attach VOL ID [DEVICE] | detach VOL [--force] | rm VOL | ls\n");
		return 2;
	}
	sb_free(&out);
	return r;
}

static int ec2_billing(struct cli *c, int argc, char **argv)
{
	struct strbuf out = STRBUF_INIT;
	struct kv k = { .n = 0 };
	bool json = false;
	const char *p, *end;
	char total[32], asof[32];
	int i, r, n = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			kv_add(&k, "ResourceId", argv[i]);
	}
	r = ec2_call(c, "GetBilling", &k, &out);
	if (r)
		goto out;
	xml_get(sb_cstr(&out), NULL, "total", total, sizeof(total));
	xml_get(sb_cstr(&out), NULL, "asOf", asof, sizeof(asof));
	if (json)
		printf("{\"currency\":\"USD\",\"as_of\":\"%s\",\"items\":[", asof);
	else
		printf("%-22s %-9s %-11s %10s %10s %-9s %12s\n", "RESOURCE", "KIND", "RATE", "SECONDS", "BILLED", "ACCRUING",
		       "COST (USD)");
	for (p = strstr(sb_cstr(&out), "<item>"); p; p = strstr(end, "<item>")) {
		char res[40], kind[16], rate[32], qty[16], secs[24], billed[24], acc[8], cost[32];

		end = strstr(p, "</item>");
		if (!end)
			break;
		xml_get(p, end, "resourceId", res, sizeof(res));
		xml_get(p, end, "kind", kind, sizeof(kind));
		xml_get(p, end, "rateKey", rate, sizeof(rate));
		xml_get(p, end, "quantity", qty, sizeof(qty));
		xml_get(p, end, "seconds", secs, sizeof(secs));
		xml_get(p, end, "billedSeconds", billed, sizeof(billed));
		xml_get(p, end, "accruing", acc, sizeof(acc));
		xml_get(p, end, "cost", cost, sizeof(cost));
		if (json)
			printf("%s{\"resource\":\"%s\",\"kind\":\"%s\",\"rate\":\"%s\",\"quantity\":%s,\"seconds\":%s,"
			       "\"billed_seconds\":%s,\"accruing\":%s,\"cost\":%s}", n ? "," : "", res, kind, rate, qty,
			       secs, billed, acc, cost);
		else
			printf("%-22s %-9s %-11s %10s %10s %-9s %12s\n", res, kind, rate, secs, billed, acc, cost);
		n++;
	}
	if (json)
		printf("],\"total\":%s}\n", total[0] ? total : "0");
	else
		printf("%-22s %66s\n", "TOTAL", total);
out:
	sb_free(&out);
	return r;
}

/* -1: not an EC2 shortcut; else the exit status. */
static int cli_ec2(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "run"))
		return ec2_run(c, argc - 1, argv + 1);
	if (!strcmp(cmd, "ls") && argc == 1)
		return ec2_ls(c);
	if (!strcmp(cmd, "stop"))
		return ids_call(c, "StopInstances", argc - 1, argv + 1, "x");
	if (!strcmp(cmd, "start"))
		return ids_call(c, "StartInstances", argc - 1, argv + 1, "x");
	if (!strcmp(cmd, "terminate"))
		return ids_call(c, "TerminateInstances", argc - 1, argv + 1, "x");
	if (!strcmp(cmd, "reboot"))
		return ids_call(c, "RebootInstances", argc - 1, argv + 1, NULL);
	if (!strcmp(cmd, "console") && argc == 2)
		return ec2_console(c, argv[1]);
	if (!strcmp(cmd, "volume"))
		return ec2_volume(c, argc - 1, argv + 1);
	if (!strcmp(cmd, "billing"))
		return ec2_billing(c, argc - 1, argv + 1);
	return -1;
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
	{
		int r = cli_ec2(&c, argc - i, argv + i);

		if (r >= 0)
			return r;
	}
	usage(stderr);
	return 2;
}
