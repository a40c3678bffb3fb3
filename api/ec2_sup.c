/* api/ec2_sup.c - the instance supervisor: one thread that reconciles what
 * the database says (state + op) with what each VMM really does.
 *
 * Every round: read all instances (one short transaction), then for each one
 * not at rest probe its run directory (vmsup.h) and act — spawn, ask the
 * control socket for readiness, send shutdown/hibernate, or settle the state
 * once the VMM has ended — recording each step in its own transaction whose
 * UPDATE names the state it expects, so a handler that changed the instance
 * in between wins.  Nothing is kept in memory between rounds: a new haneuld
 * (after a restart or kill -9) picks up exactly where the last one stopped,
 * re-adopting VMMs that still run and settling those that ended meanwhile. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/ec2_int.h"
#include "api/ec2_net.h"
#include "api/vmsup.h"
#include "common/netaddr.h"
#include "common/log.h"

#define LAUNCH_TIMEOUT_S 120   /* pending this long without READY: give up */
#define KILL_GRACE_S     15    /* after the VMM's own stop timeout */

static int exec_id(struct store *st, const char *sql, const char *id, int64_t v)
{
	sqlite3_stmt *s = store_prepare(st, sql);
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

/* One small write transaction running sql (?1 = id, ?2 = v). */
static void tx_exec(struct ec2 *e, const char *sql, const char *id, int64_t v)
{
	struct store *st = &e->api->store;
	int err;

	if (store_tx_begin(st, true))
		return;
	err = exec_id(st, sql, id, v);
	store_tx_end(st, err == 0);
}

static void settle(struct ec2 *e, const struct ec2_inst *x, const char *to, const char *code, const char *msg)
{
	struct store *st = &e->api->store;
	time_t now = e->api->now();
	int r;

	if (store_tx_begin(st, true))
		return;
	r = ec2_inst_set_state(e, x->id, x->state, to, NULL, false, code, msg, now);
	if (store_tx_end(st, r >= 0) == 0 && r > 0) {
		log_info("ec2: %s %s -> %s%s%s", x->id, x->state, to, code ? " " : "", code ? code : "");
		if (!strcmp(to, "terminated"))
			ec2_net_instance_gone(e->net, x->id);
	}
}

/* Builds the VMM command for x and starts it. */
static int spawn(struct ec2 *e, const struct ec2_inst *x, const char *dir)
{
	struct store *st = &e->api->store;
	const struct ec2_type *t = ec2_type_find(x->type);
	char kernel[PATH_MAX] = "", initrd[PATH_MAX] = "", cmdline[EC2_CMDLINE_MAX] = "", hib[PATH_MAX + 64];
	char *ud = NULL;
	unsigned max_mem = 0, max_vcpus = 0;
	struct vmsup_spec spec;
	char **drives = NULL;
	size_t nd = 0;
	sqlite3_stmt *s;
	struct timespec t0, t1, t2;
	pid_t pid;
	int err = -ENOENT;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!t)
		return -EINVAL;
	if (store_tx_begin(st, false))
		return -EIO;
	s = store_prepare(st, "SELECT kernel, initrd, cmdline, max_mem_mib, max_vcpus FROM ec2_images WHERE id = ?");
	if (s) {
		sqlite3_bind_text(s, 1, x->image_id, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			snprintf(kernel, sizeof(kernel), "%s", (const char *)sqlite3_column_text(s, 0));
			if (sqlite3_column_type(s, 1) != SQLITE_NULL)
				snprintf(initrd, sizeof(initrd), "%s", (const char *)sqlite3_column_text(s, 1));
			snprintf(cmdline, sizeof(cmdline), "%s haneul.instance_id=%s",
				 (const char *)sqlite3_column_text(s, 2), x->id);
			max_mem = (unsigned)sqlite3_column_int(s, 3);
			max_vcpus = (unsigned)sqlite3_column_int(s, 4);
			err = 0;
		}
		sqlite3_finalize(s);
	}
	/* UserData (checked base64 at RunInstances) for the guest's agent. */
	s = err ? NULL : store_prepare(st, "SELECT user_data FROM ec2_instances WHERE id = ?");
	if (s) {
		sqlite3_bind_text(s, 1, x->id, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL &&
		    sqlite3_column_bytes(s, 0) > 0 && !(ud = strdup((const char *)sqlite3_column_text(s, 0))))
			err = -ENOMEM;
		sqlite3_finalize(s);
	}
	if (!err)
		err = ec2_vol_drive_args(e, x->id, &drives, &nd);
	store_tx_end(st, false);
	if (err) {
		free(ud);
		return err;
	}
	if (e->net && !x->hibernated) {
		char net[160], ipargs[96];
		char **nv = realloc(drives, (nd + 2) * sizeof(*drives));

		if (!nv) {
			ec2_strv_free(drives, nd);
			free(ud);
			return -ENOMEM;
		}
		drives = nv;
		if (ec2_net_instance(e->net, x->id, x->private_ip, net, sizeof(net), ipargs, sizeof(ipargs)) == 0) {
			drives[nd] = strdup("--net");
			drives[nd + 1] = strdup(net);
			if (drives[nd] && drives[nd + 1])
				nd += 2;
			else {
				free(drives[nd]);
				free(drives[nd + 1]);
			}
			snprintf(cmdline + strlen(cmdline), sizeof(cmdline) - strlen(cmdline), " %s", ipargs);
		}
	}
	if (ud) {
		size_t used = strlen(cmdline);

		/* Last, so a kernel that cut the line would cut only this. */
		if (used + strlen(" haneul.user_data=") + strlen(ud) >= sizeof(cmdline))
			log_warn("ec2: %s: user data does not fit on the kernel command line: not delivered", x->id);
		else
			snprintf(cmdline + used, sizeof(cmdline) - used, " haneul.user_data=%s", ud);
		free(ud);
		ud = NULL;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ec2_strv_free(drives, nd);
		return -errno;
	}
	memset(&spec, 0, sizeof(spec));
	spec.vmm = e->vmm;
	spec.run_dir = dir;
	if ((size_t)snprintf(hib, sizeof(hib), "%s/hib", dir) >= sizeof(hib))
			hib[0] = '\0';
	if (x->hibernated) {
		spec.resume_dir = hib;
	} else {
		spec.kernel = kernel;
		spec.initrd = initrd[0] ? initrd : NULL;
		spec.cmdline = cmdline;
		spec.vcpus = max_vcpus && max_vcpus < t->vcpus ? max_vcpus : t->vcpus;
		spec.mem_mib = max_mem && max_mem < t->mem_mib ? max_mem : t->mem_mib;
		spec.extra = (const char *const *)drives;
		spec.n_extra = nd;
	}
	spec.shutdown_timeout_s = e->stop_timeout_s;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	err = vmsup_spawn(&spec, &pid);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	ec2_strv_free(drives, nd);
	if (!err)
		log_info("ec2: %s: %s haneul-vmm pid %d (prepare %ld us, spawn %ld us)", x->id,
			 x->hibernated ? "resumed" : "started", (int)pid,
			 (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000,
			 (t2.tv_sec - t1.tv_sec) * 1000000L + (t2.tv_nsec - t1.tv_nsec) / 1000);
	return err;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX + 300];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat stt;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &stt) == 0 && S_ISDIR(stt.st_mode))
			remove_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Does the guest console of this start hold a line beginning with the
 * readiness marker "haneul-ready " (images/linux's haneul-rc prints it;
 * the tiny guest too)?  console.log only has the current VMM's output
 * (vmsup_console_rotate()). */
static bool console_marker(const char *dir)
{
	static const char mark[] = "\nhaneul-ready ";
	const size_t ml = sizeof(mark) - 1;
	char path[PATH_MAX + 80], buf[16384 + sizeof(mark)];
	size_t have = 1;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/console.log", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	buf[0] = '\n'; /* the file's first line counts too */
	for (;;) {
		size_t r = fread(buf + have, 1, sizeof(buf) - have, f);

		if (!r)
			break;
		have += r;
		if (memmem(buf, have, mark, ml)) {
			found = true;
			break;
		}
		/* Keep a tail that a marker cut by the chunk boundary starts in. */
		memmove(buf, buf + have - (ml - 1), ml - 1);
		have = ml - 1;
	}
	fclose(f);
	return found;
}

/* Pending -> running: the guest wrote the READY port (ready_us: the tiny
 * guest), or printed the readiness marker (a Linux guest: images/linux has
 * no way to write an I/O port, its rc script prints the marker), or -- for
 * a resume -- the VMM restored a guest that was running when it hibernated. */
static bool ready(const struct ec2_inst *x, const char *dir)
{
	struct json_object *r = NULL, *v;
	bool ok = false;

	if (vmsup_ctl(dir, "{\"cmd\":\"status\"}", 1000, &r) == 0) {
		ok = x->hibernated ||
		     (json_object_object_get_ex(r, "ready_us", &v) && !json_object_is_type(v, json_type_null)) ||
		     console_marker(dir);
	}
	json_object_put(r);
	return ok;
}

/* Sends the stop/hibernate/terminate command of x to its VMM. */
static void send_op(struct ec2 *e, const struct ec2_inst *x, const char *dir)
{
	struct json_object *r = NULL;
	char cmd[PATH_MAX + 100];
	int err = -EINVAL;

	if (!strcmp(x->op, "hibernate") && !x->op_force) {
		char hib[PATH_MAX + 64];

		if ((size_t)snprintf(hib, sizeof(hib), "%s/hib", dir) >= sizeof(hib))
			hib[0] = '\0';
		mkdir(hib, 0700);
		snprintf(cmd, sizeof(cmd), "{\"cmd\":\"hibernate\",\"dir\":\"%s\"}", hib);
		err = vmsup_ctl(dir, cmd, 30000, &r);
		if (err) {
			struct json_object *m;

			/* "If the instance cannot hibernate successfully, a
			 * normal shutdown occurs" (EC2's StopInstances). */
			log_warn("ec2: %s: hibernate failed (%s): shutting down instead", x->id,
				 r && json_object_object_get_ex(r, "error", &m) ? json_object_get_string(m) : strerror(-err));
		}
		json_object_put(r);
		r = NULL;
	}
	if (err) {
		snprintf(cmd, sizeof(cmd), "{\"cmd\":\"shutdown\",\"timeout\":%u%s}", e->stop_timeout_s,
			 x->op_force ? ",\"force\":true" : "");
		err = vmsup_ctl(dir, cmd, 5000, &r);
		json_object_put(r);
	}
	if (err && err != -EREMOTEIO) {
		/* No control socket (yet): SIGTERM forces it off (exit 5). */
		log_warn("ec2: %s: control socket: %s: sending SIGTERM", x->id, strerror(-err));
		vmsup_kill(dir, SIGTERM);
	}
	tx_exec(e, "UPDATE ec2_instances SET op_time = ?2 WHERE id = ?1 AND op_time IS NULL", x->id,
		(int64_t)e->api->now());
}

static void exit_reason(int status, char *code, size_t cn, char *msg, size_t mn)
{
	snprintf(code, cn, "Server.InternalError");
	if (status == 3)
		snprintf(msg, mn, "Server.InternalError: the guest crashed (haneul-vmm exit status 3)");
	else if (status == 5)
		snprintf(msg, mn, "Server.InternalError: the VMM forced the guest off (haneul-vmm exit status 5)");
	else if (status > 128)
		snprintf(msg, mn, "Server.InternalError: the VMM was killed by signal %d", status - 128);
	else if (status < 0)
		snprintf(msg, mn, "Server.InternalError: the VMM disappeared without an exit status");
	else
		snprintf(msg, mn, "Server.InternalError: the VMM exited with status %d", status);
}

/* The launch hot path's two steps (VMM spawned, guest ready) for every
 * instance of a round, committed in one transaction at its end: a commit is
 * an fsync, and a batch of 50 launches would otherwise pay 100 of them. */
struct batch {
	struct ec2_inst **spawned, **ready;
	size_t n_spawned, n_ready;
};

static void batch_commit(struct ec2 *e, struct batch *b)
{
	struct store *st = &e->api->store;
	time_t now = e->api->now();
	size_t i;
	bool *moved;
	int err = 0, r;

	if (!b->n_spawned && !b->n_ready)
		return;
	moved = calloc(b->n_ready + 1, sizeof(*moved));
	if (!moved || store_tx_begin(st, true)) {
		free(moved);
		return;
	}
	for (i = 0; i < b->n_spawned && !err; i++)
		err = exec_id(st, "UPDATE ec2_instances SET op = 'spawned', op_time = ?2 WHERE id = ?1 AND state = 'pending'",
			      b->spawned[i]->id, (int64_t)now);
	for (i = 0; i < b->n_ready && !err; i++) {
		const struct ec2_inst *x = b->ready[i];

		r = ec2_inst_set_state(e, x->id, "pending", "running", NULL, false, NULL, NULL, now);
		if (r > 0 && x->hibernated) {
			/* exec_id() answers 0 on success: keep r > 0 ("moved"), or
			 * the log line and the removal of hib/ below are skipped. */
			int r2 = exec_id(st, "UPDATE ec2_instances SET hibernated = 0 WHERE id = ?1 AND ?2 = ?2", x->id, 0);

			if (r2 < 0)
				r = r2;
		}
		if (r < 0)
			err = r;
		moved[i] = r > 0;
	}
	if (store_tx_end(st, err == 0) == 0 && err == 0) {
		for (i = 0; i < b->n_ready; i++) {
			const struct ec2_inst *x = b->ready[i];
			char hib[PATH_MAX + 80];

			if (!moved[i])
				continue;
			log_info("ec2: %s pending -> running", x->id);
			if (x->hibernated) {
				ec2_run_dir(e, x->id, hib, sizeof(hib) - 8);
				strcat(hib, "/hib");
				remove_tree(hib);
			}
		}
	}
	free(moved);
}

static void one(struct ec2 *e, struct ec2_inst *x, bool *busy, struct batch *b)
{
	char dir[PATH_MAX + 64], code[64], msg[256];
	struct vmsup_probe p;
	time_t now = e->api->now();
	bool gone;

	ec2_run_dir(e, x->id, dir, sizeof(dir));
	if (!strcmp(x->state, "terminated")) {
		if (now - x->state_time >= EC2_TERMINATED_KEEP_S) {
			struct store *st = &e->api->store;

			if (store_tx_begin(st, true) == 0) {
				int err = exec_id(st, "DELETE FROM ec2_instances WHERE id = ?1 AND state = 'terminated'"
						      " AND ?2 = ?2", x->id, 0);

				if (!err)
					err = exec_id(st, "DELETE FROM ec2_tags WHERE resource_id = ?1 AND ?2 = ?2", x->id, 0);
				store_tx_end(st, err == 0);
			}
			ec2_net_instance_gone(e->net, x->id);
			remove_tree(dir);
		}
		return;
	}
	if (vmsup_probe(dir, &p))
		return;
	gone = p.state != VMSUP_ALIVE;
	if (!strcmp(x->state, "stopped")) {
		if (!gone) /* a VMM for a stopped instance: never ours to keep */
			vmsup_kill(dir, SIGKILL);
		return;
	}
	if (!strcmp(x->state, "pending")) {
		*busy = true;
		if (strcmp(x->op, "spawned")) {
			int err = 0;

			if (p.state != VMSUP_ALIVE)
				err = spawn(e, x, dir);
			if (err) {
				snprintf(msg, sizeof(msg), "Server.InternalError: the VMM could not be started: %s",
					 strerror(-err));
				log_warn("ec2: %s: %s", x->id, msg);
				settle(e, x, x->starts ? "stopped" : "terminated", "Server.InternalError", msg);
				return;
			}
			b->spawned[b->n_spawned++] = x;
			return;
		}
		if (gone) {
			char tail[160] = "";
			FILE *f;

			exit_reason(p.state == VMSUP_EXITED ? p.status : -1, code, sizeof(code), msg, sizeof(msg));
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/vmm.log");
			f = fopen(dir, "r");
			if (f) {
				char line[160];

				while (fgets(line, sizeof(line), f))
					snprintf(tail, sizeof(tail), "%s", line);
				fclose(f);
				tail[strcspn(tail, "\n")] = '\0';
			}
			log_warn("ec2: %s: launch failed: %s (%s)", x->id, msg, tail);
			settle(e, x, x->starts ? "stopped" : "terminated", code, msg);
			return;
		}
		if (ready(x, dir)) {
			b->ready[b->n_ready++] = x;
			return;
		}
		if (x->op_time && now - x->op_time > LAUNCH_TIMEOUT_S) {
			log_warn("ec2: %s: not ready after %d s: forcing it off", x->id, LAUNCH_TIMEOUT_S);
			vmsup_kill(dir, SIGKILL);
		}
		return;
	}
	if (!strcmp(x->state, "running")) {
		if (!gone)
			return;
		if (p.state == VMSUP_EXITED && p.status == 0) {
			/* The guest powered itself off. */
			bool term = !strcmp(x->shutdown, "terminate");

			settle(e, x, term ? "terminated" : "stopped", "Client.InstanceInitiatedShutdown",
			       "Client.InstanceInitiatedShutdown: Instance initiated shutdown");
			return;
		}
		exit_reason(p.state == VMSUP_EXITED ? p.status : -1, code, sizeof(code), msg, sizeof(msg));
		log_warn("ec2: %s: %s", x->id, msg);
		settle(e, x, "stopped", code, msg);
		return;
	}
	if (!strcmp(x->state, "stopping") || !strcmp(x->state, "shutting-down")) {
		bool term = x->state[0] == 's' && x->state[1] == 'h';

		*busy = true;
		if (gone) {
			bool hibernated = !term && p.state == VMSUP_EXITED && p.status == 4;
			struct store *st = &e->api->store;
			int r;

			if (store_tx_begin(st, true))
				return;
			/* Keep the reason given when the stop was asked. */
			r = ec2_inst_set_state(e, x->id, x->state, term ? "terminated" : "stopped", NULL, false,
					       x->reason_code[0] ? x->reason_code : NULL,
					       x->reason_msg[0] ? x->reason_msg : NULL, now);
			if (r > 0 && !term)
				r = exec_id(st, "UPDATE ec2_instances SET hibernated = ?2 WHERE id = ?1", x->id, hibernated);
			if (store_tx_end(st, r >= 0) == 0 && r > 0) {
				log_info("ec2: %s %s -> %s%s", x->id, x->state, term ? "terminated" : "stopped",
					 hibernated ? " (hibernated)" : "");
				if (term)
					ec2_net_instance_gone(e->net, x->id);
			}
			return;
		}
		if (!x->op_time) {
			send_op(e, x, dir);
			return;
		}
		if (now - x->op_time > (time_t)e->stop_timeout_s + KILL_GRACE_S) {
			log_warn("ec2: %s: VMM still there %lld s after %s: SIGKILL", x->id,
				 (long long)(now - x->op_time), x->op);
			vmsup_kill(dir, SIGKILL);
		}
	}
}

int ec2_sup_round(struct ec2 *e, bool *busy)
{
	struct store *st = &e->api->store;
	struct ec2_inst *v = NULL;
	size_t n = 0, i;
	int err;

	*busy = false;
	if (store_tx_begin(st, false))
		return -EIO;
	err = ec2_inst_load(st, NULL, NULL, &v, &n);
	store_tx_end(st, false);
	if (err)
		return err;
	{
		struct batch b = { calloc(n + 1, sizeof(*b.spawned)), calloc(n + 1, sizeof(*b.ready)), 0, 0 };

		if (!b.spawned || !b.ready) {
			free(b.spawned);
			free(b.ready);
			ec2_inst_free(v, n);
			return -ENOMEM;
		}
		for (i = 0; i < n; i++)
			one(e, &v[i], busy, &b);
		batch_commit(e, &b);
		free(b.spawned);
		free(b.ready);
	}
	if (e->net) {
		/* Public addresses of running instances reach their port 80. */
		struct ec2_fwd_map *m = calloc(n + 1, sizeof(*m));
		size_t k = 0;

		for (i = 0; m && i < n; i++)
			if (!strcmp(v[i].state, "running") && v[i].public_ip[0] &&
			    netaddr_parse_ipv4(v[i].public_ip, &m[k].public_ip) == 0 &&
			    netaddr_parse_ipv4(v[i].private_ip, &m[k].private_ip) == 0)
				k++;
		if (m)
			ec2_net_forward(e->net, m, k);
		free(m);
	}
	ec2_inst_free(v, n);
	return 0;
}

/* A VMM whose run dir belongs to no instance that may run (a deleted
 * instance, a stray process from a broken state.db) is stopped: no VMM is
 * left orphaned. */
static void orphan_sweep(struct ec2 *e)
{
	struct store *st = &e->api->store;
	DIR *d = opendir(e->run_root);
	struct dirent *de;
	char dir[PATH_MAX + 300];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct vmsup_probe p;
		sqlite3_stmt *s;
		bool known = false;

		if (strncmp(de->d_name, "i-", 2))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", e->run_root, de->d_name);
		if (vmsup_probe(dir, &p) || p.state != VMSUP_ALIVE)
			continue;
		if (store_tx_begin(st, false))
			break;
		s = store_prepare(st, "SELECT 1 FROM ec2_instances WHERE id = ? AND state NOT IN ('stopped','terminated')");
		if (s) {
			sqlite3_bind_text(s, 1, de->d_name, -1, SQLITE_STATIC);
			known = sqlite3_step(s) == SQLITE_ROW;
			sqlite3_finalize(s);
		}
		store_tx_end(st, false);
		if (!s)
			break;
		if (known) {
			log_info("ec2: re-adopted %s (haneul-vmm pid %d)", de->d_name, (int)p.pid);
		} else {
			log_warn("ec2: %s: VMM pid %d belongs to no live instance: killing it", de->d_name, (int)p.pid);
			vmsup_kill(dir, SIGKILL);
		}
	}
	closedir(d);
}

void *ec2_sup_main(void *arg)
{
	struct ec2 *e = arg;
	unsigned seen = 0;

	orphan_sweep(e);
	for (;;) {
		struct timespec ts;
		bool busy = false;

		ec2_sup_round(e, &busy);
		pthread_mutex_lock(&e->mu);
		if (!e->stop && e->kicks == seen) {
			long ms = busy ? 10 : 500;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += ms * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&e->cv, &e->mu, &ts);
		}
		seen = e->kicks;
		if (e->stop) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		pthread_mutex_unlock(&e->mu);
	}
	return NULL;
}
