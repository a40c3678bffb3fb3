/* tests/unit/test_agent_ctl.c - haneul-agent's vsock protocol (agent/actl.c):
 * command parsing, garbage, replies; and the virtio-mmio sysfs helpers
 * (agent/asys.c) on a fake sysfs tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent/actl.h"
#include "agent/asys.h"

static int parse(const char *s, struct actl_req *r, char *err)
{
	return actl_parse(s, strlen(s), r, err, 160);
}

static void test_commands(void **state)
{
	struct actl_req r;
	char err[160];

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"ping\"}", &r, err), 0);
	assert_int_equal(r.cmd, ACTL_PING);
	assert_int_equal(parse(" {\"cmd\" : \"metadata\"} \r", &r, err), 0);
	assert_int_equal(r.cmd, ACTL_METADATA);
	assert_int_equal(parse("{\"cmd\":\"shutdown\"}", &r, err), 0);
	assert_int_equal(r.cmd, ACTL_SHUTDOWN);
	assert_int_equal(parse("{\"cmd\":\"reboot\"}", &r, err), 0);
	assert_int_equal(r.cmd, ACTL_REBOOT);
	assert_int_equal(parse("{\"cmd\":\"virtio-devices\"}", &r, err), 0);
	assert_int_equal(r.cmd, ACTL_VIRTIO_DEVICES);
	assert_int_equal(parse("{\"cmd\":\"unbind-virtio\",\"device\":\"LNRO0005:01\"}", &r, err), 0);
	assert_int_equal(r.cmd, ACTL_UNBIND_VIRTIO);
	assert_string_equal(r.device, "LNRO0005:01");
	assert_string_equal(r.serial, "");
	assert_int_equal(parse("{\"serial\":\"vol-0abc\",\"cmd\":\"unbind-virtio\"}", &r, err), 0);
	assert_string_equal(r.serial, "vol-0abc");
}

static void expect_error(const char *line, const char *msg_part)
{
	struct actl_req r;
	char err[160] = "";

	if (parse(line, &r, err) != -EINVAL)
		fail_msg("accepted: %s", line);
	if (!strstr(err, msg_part))
		fail_msg("'%s': error '%s' lacks '%s'", line, err, msg_part);
}

static void test_garbage(void **state)
{
	(void)state;
	expect_error("", "malformed");
	expect_error("garbage", "malformed");
	expect_error("{\"cmd\":\"ping\"", "malformed");
	expect_error("{\"cmd\":\"ping\"} {}", "trailing");
	expect_error("[\"ping\"]", "object");
	expect_error("\"ping\"", "object");
	expect_error("{}", "missing \"cmd\"");
	expect_error("{\"cmd\":1}", "missing \"cmd\"");
	expect_error("{\"cmd\":\"fly\"}", "unknown command");
	expect_error("{\"cmd\":\"exec\",\"argv\":[\"sh\"]}", "no remote shell");
	expect_error("{\"cmd\":\"ping\",\"x\":1}", "unknown field");
	expect_error("{\"cmd\":\"shutdown\",\"device\":\"a\"}", "unknown field");
	expect_error("{\"cmd\":\"unbind-virtio\"}", "exactly one");
	expect_error("{\"cmd\":\"unbind-virtio\",\"device\":\"a\",\"serial\":\"b\"}", "exactly one");
	expect_error("{\"cmd\":\"unbind-virtio\",\"device\":7}", "must be a string");
	expect_error("{\"cmd\":\"unbind-virtio\",\"device\":\"../../x\"}", "must be 1..64");
	expect_error("{\"cmd\":\"unbind-virtio\",\"device\":\"..\"}", "must be 1..64");
	expect_error("{\"cmd\":\"unbind-virtio\",\"device\":\"\"}", "must be 1..64");
	expect_error("{\"cmd\":\"unbind-virtio\",\"device\":\"a\\u0000b\"}", "must be 1..64");
	expect_error("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}},\"cmd\":\"ping\"}", "malformed"); /* depth */
}

static void test_binary_and_long_lines(void **state)
{
	char *line = malloc(ACTL_LINE_MAX + 2);
	struct actl_req r;
	char err[160];

	(void)state;
	assert_non_null(line);
	assert_int_equal(actl_parse("{\"cmd\":\"ping\"}\0x", 16, &r, err, sizeof(err)), -EINVAL);
	memset(line, ' ', ACTL_LINE_MAX + 1);
	memcpy(line, "{\"cmd\":\"ping\"}", 14);
	assert_int_equal(actl_parse(line, ACTL_LINE_MAX, &r, err, sizeof(err)), 0);
	assert_int_equal(actl_parse(line, ACTL_LINE_MAX + 1, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	/* Random bytes never crash and never parse as a command. */
	srand(1);
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)(rand() % 64);

		for (size_t k = 0; k < n; k++)
			line[k] = (char)(rand() % 256);
		(void)actl_parse(line, n, &r, err, sizeof(err));
	}
	free(line);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(actl_name_valid("LNRO0005:00"));
	assert_true(actl_name_valid("d0000000.virtio_mmio"));
	assert_true(actl_name_valid("virtio-mmio.3"));
	assert_false(actl_name_valid("a/b"));
	assert_false(actl_name_valid("."));
	assert_false(actl_name_valid("a b"));
	assert_false(actl_name_valid("0123456789012345678901234567890123456789012345678901234567890123x"));
}

/* Parses a reply line and checks it is one JSON object ending in '\n'. */
static struct json_object *reply_obj(char *line)
{
	struct json_object *o;
	size_t n;

	assert_non_null(line);
	n = strlen(line);
	assert_true(n > 1);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));
	o = json_tokener_parse(line);
	assert_non_null(o);
	free(line);
	return o;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_string(v);
}

static void test_replies(void **state)
{
	static const unsigned char ud[] = "#!/bin/sh\n";
	struct actl_info info = {
		.instance_id = "i-0abc", .boot_id = "b-1", .kernel = "6.1.0", .uptime = 12.345,
		.nproc = 2, .http_port = 80, .user_data = ud, .user_data_len = 10, .seq = 1,
	};
	struct json_object *o, *v;

	(void)state;
	o = reply_obj(actl_ready_line(&info));
	assert_string_equal(str(o, "event"), "ready");
	assert_string_equal(str(o, "instance_id"), "i-0abc");
	assert_string_equal(str(o, "boot_id"), "b-1");
	assert_string_equal(str(o, "uptime"), "12.35");
	assert_true(json_object_object_get_ex(o, "nproc", &v) && json_object_get_int(v) == 2);
	assert_true(json_object_object_get_ex(o, "seq", &v) && json_object_get_int(v) == 1);
	assert_false(json_object_object_get_ex(o, "user_data", &v)); /* not broadcast */
	json_object_put(o);

	o = reply_obj(actl_metadata_reply(&info));
	assert_true(json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v));
	assert_string_equal(str(o, "user_data"), "IyEvYmluL3NoCg==");
	json_object_put(o);
	info.user_data = NULL;
	o = reply_obj(actl_metadata_reply(&info));
	assert_true(json_object_object_get_ex(o, "user_data", &v) && v == NULL);
	json_object_put(o);

	o = reply_obj(actl_error_reply("bad \"thing\"\nx"));
	assert_true(json_object_object_get_ex(o, "ok", &v) && !json_object_get_boolean(v));
	assert_string_equal(str(o, "error"), "bad \"thing\"\nx");
	json_object_put(o);

	o = reply_obj(actl_action_reply("poweroff"));
	assert_string_equal(str(o, "action"), "poweroff");
	json_object_put(o);
	o = reply_obj(actl_ping_reply(1.0));
	assert_true(json_object_object_get_ex(o, "pong", &v) && json_object_get_boolean(v));
	json_object_put(o);
}

/* ---- fake sysfs ---- */

struct fake {
	char root[64];
	char drv[256];
};

static void mk(const char *path)
{
	assert_int_equal(mkdir(path, 0755), 0);
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	char p[512];

	strcpy(f->root, "/tmp/haneul-agent-sysfs.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(p, sizeof(p), "%s/bus", f->root); mk(p);
	snprintf(p, sizeof(p), "%s/bus/platform", f->root); mk(p);
	snprintf(p, sizeof(p), "%s/bus/platform/drivers", f->root); mk(p);
	snprintf(f->drv, sizeof(f->drv), "%s/bus/platform/drivers/virtio-mmio", f->root); mk(f->drv);
	snprintf(p, sizeof(p), "%s/unbind", f->drv); put(p, "");
	snprintf(p, sizeof(p), "%s/bind", f->drv); put(p, "");
	snprintf(p, sizeof(p), "%s/uevent", f->drv); put(p, "");
	/* Two disks and an rng, like haneul-vmm's slots. */
	static const struct { const char *name, *virtio, *id, *blk, *serial; } devs[] = {
		{ "LNRO0005:01", "virtio1", "0x0002", "vdb", "vol-0data" },
		{ "LNRO0005:00", "virtio0", "0x0002", "vda", "vol-0root" },
		{ "LNRO0005:02", "virtio2", "0x0004", NULL, NULL },
	};
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", f->drv, devs[i].name); mk(p);
		snprintf(p, sizeof(p), "%s/%s/%s", f->drv, devs[i].name, devs[i].virtio); mk(p);
		snprintf(p, sizeof(p), "%s/%s/%s/device", f->drv, devs[i].name, devs[i].virtio);
		put(p, devs[i].id);
		if (!devs[i].blk)
			continue;
		snprintf(p, sizeof(p), "%s/%s/%s/block", f->drv, devs[i].name, devs[i].virtio); mk(p);
		snprintf(p, sizeof(p), "%s/%s/%s/block/%s", f->drv, devs[i].name, devs[i].virtio,
			 devs[i].blk); mk(p);
		snprintf(p, sizeof(p), "%s/%s/%s/block/%s/serial", f->drv, devs[i].name,
			 devs[i].virtio, devs[i].blk);
		put(p, devs[i].serial);
	}
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_sysfs_list(void **state)
{
	struct fake *f = *state;
	struct asys_vdev v[ASYS_MAX_DEVICES];
	int n = asys_virtio_list(f->root, v, ASYS_MAX_DEVICES);

	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "LNRO0005:00");
	assert_string_equal(v[0].virtio, "virtio0");
	assert_int_equal(v[0].device_id, 2);
	assert_string_equal(v[0].block, "vda");
	assert_string_equal(v[0].serial, "vol-0root");
	assert_string_equal(v[1].serial, "vol-0data");
	assert_int_equal(v[2].device_id, 4);
	assert_string_equal(v[2].block, "");
	assert_int_equal(asys_virtio_list(f->root, v, 1), 1);
	assert_int_equal(asys_virtio_list("/nonexistent-haneul", v, 4), -ENOENT);
}

static void test_sysfs_unbind(void **state)
{
	struct fake *f = *state;
	char name[ACTL_NAME_MAX + 1], buf[128], p[512];

	snprintf(p, sizeof(p), "%s/unbind", f->drv);
	assert_int_equal(asys_virtio_unbind(f->root, "LNRO0005:01"), 0);
	slurp(p, buf, sizeof(buf));
	assert_string_equal(buf, "LNRO0005:01");
	/* Not bound / not a device / bad names: nothing written. */
	put(p, "");
	assert_int_equal(asys_virtio_unbind(f->root, "LNRO0005:09"), -ENOENT);
	assert_int_equal(asys_virtio_unbind(f->root, "unbind"), -ENOENT);
	assert_int_equal(asys_virtio_unbind(f->root, "module"), -EINVAL);
	assert_int_equal(asys_virtio_unbind(f->root, "../virtio-mmio"), -EINVAL);
	slurp(p, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* By serial. */
	assert_int_equal(asys_virtio_find_serial(f->root, "vol-0data", name), 0);
	assert_string_equal(name, "LNRO0005:01");
	assert_int_equal(asys_virtio_find_serial(f->root, "vol-nope", name), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_binary_and_long_lines),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_replies),
		cmocka_unit_test_setup_teardown(test_sysfs_list, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_sysfs_unbind, fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
