/* tests/unit/test_ec2.c - the EC2 service in-process: api_init() + ec2_new()
 * without the supervisor (no VMM is started), signed requests through
 * api_handle(), an injected clock (billing).  Also the pure parts of
 * api/vmsup.c (argv, exit files, probe of a run dir). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "api/api.h"
#include "api/ec2.h"
#include "api/ec2_int.h"
#include "api/vmsup.h"
#include "common/log.h"

#define NOW 1440938160 /* 20150830T123600Z */

static time_t clock_now = NOW;

static time_t fake_now(void)
{
	return clock_now;
}

struct fx {
	struct api api;
	char dir[64];
	char key[64], secret[64];
};

static struct api_http_resp last;

static int call_as(struct fx *f, const char *key, const char *secret, const char *service, const char *body)
{
	char date[17], hash[65];
	struct sigv4_header h[4] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "127.0.0.1:4566" },
		{ "X-Amz-Date", date },
		{ "Authorization", NULL },
	};
	struct sigv4_request r = { "POST", "/", NULL, h, 3, hash, false };
	struct strbuf auth = STRBUF_INIT;
	struct api_http_req in = { "POST", "/", NULL, h, 4, body, strlen(body) };

	sigv4_format_amz_date(clock_now, date);
	sigv4_hex_sha256(body, strlen(body), hash);
	assert_int_equal(sigv4_sign(&r, key, secret, date, "ap-northeast-2", service, "content-type;host;x-amz-date",
				    &auth), 0);
	h[3].value = auth.p;
	sb_free(&last.body);
	memset(&last, 0, sizeof(last));
	sb_init(&last.body);
	api_handle(&f->api, &in, &last);
	sb_free(&auth);
	return last.status;
}

static int ec2(struct fx *f, const char *body)
{
	char full[4096];

	snprintf(full, sizeof(full), "%s&Version=2016-11-15", body);
	return call_as(f, f->key, f->secret, "ec2", full);
}

static bool has(const char *s)
{
	return strstr(sb_cstr(&last.body), s) != NULL;
}

static void grab(const char *tag, char *out, size_t n)
{
	char open[64], *p, *e;

	snprintf(open, sizeof(open), "<%s>", tag);
	p = strstr(sb_cstr(&last.body), open);
	assert_non_null(p);
	p += strlen(open);
	e = strchr(p, '<');
	assert_non_null(e);
	snprintf(out, n, "%.*s", (int)(e - p), p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128], line[256], rk[64] = "", rs[64] = "", tiny[160];
	struct ec2_config cfg = { "/nonexistent/haneul-vmm", NULL, false, 30, 64 };
	FILE *fp;

	log_init("test_ec2", LOG_ERROR);
	clock_now = NOW;
	strcpy(f->dir, "/tmp/haneul-unit-ec2.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(api_init(&f->api, f->dir, "ap-northeast-2"), 0);
	f->api.now = fake_now;
	/* A fake images dir with a "tiny" kernel so haneul-tiny is registered. */
	snprintf(tiny, sizeof(tiny), "%s/images/tiny", f->dir);
	snprintf(path, sizeof(path), "%s/images", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(tiny, 0700), 0);
	snprintf(line, sizeof(line), "%s/tiny.elf", tiny);
	fp = fopen(line, "w");
	assert_non_null(fp);
	fputs("not really an ELF", fp);
	fclose(fp);
	cfg.images_dir = path;
	assert_int_equal(ec2_new(&f->api, &cfg), 0);
	assert_non_null(f->api.ec2);

	snprintf(path, sizeof(path), "%s/root-credentials", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		sscanf(line, "aws_access_key_id = %63s", rk);
		sscanf(line, "aws_secret_access_key = %63s", rs);
	}
	fclose(fp);
	assert_int_equal(call_as(f, rk, rs, "iam", "Action=CreateUser&UserName=bob"), 200);
	assert_int_equal(call_as(f, rk, rs, "iam",
				 "Action=AttachUserPolicy&UserName=bob&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2FullAccess"),
			 200);
	assert_int_equal(call_as(f, rk, rs, "iam", "Action=CreateAccessKey&UserName=bob"), 200);
	grab("AccessKeyId", f->key, sizeof(f->key));
	grab("SecretAccessKey", f->secret, sizeof(f->secret));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	ec2_free(&f->api);
	api_fini(&f->api);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	sb_free(&last.body);
	memset(&last, 0, sizeof(last));
	free(f);
	return 0;
}

static void tiny_ami(struct fx *f, char *ami, size_t n)
{
	assert_int_equal(ec2(f, "Action=DescribeImages&Filter.1.Name=name&Filter.1.Value.1=haneul-tiny"), 200);
	grab("imageId", ami, n);
	assert_int_equal(strncmp(ami, "ami-", 4), 0);
}

static void run1(struct fx *f, const char *extra, char *id, size_t n)
{
	char ami[32], body[1024];

	tiny_ami(f, ami, sizeof(ami));
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&InstanceType=t3.micro&MinCount=1&MaxCount=1%s", ami,
		 extra);
	assert_int_equal(ec2(f, body), 200);
	grab("instanceId", id, n);
}

/* Moves an instance the way the supervisor would (no VMM here). */
static void force_state(struct fx *f, const char *id, const char *from, const char *to)
{
	struct store *st = &f->api.store;

	assert_int_equal(store_tx_begin(st, true), 0);
	assert_int_equal(ec2_inst_set_state(f->api.ec2, id, from, to, NULL, false, NULL, NULL, clock_now), 1);
	assert_int_equal(store_tx_end(st, true), 0);
}

static void test_catalogue(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ec2(f, "Action=DescribeRegions"), 200);
	assert_true(has("<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>"));
	assert_true(has("<regionName>ap-northeast-2</regionName>"));
	assert_int_equal(ec2(f, "Action=DescribeAvailabilityZones"), 200);
	assert_true(has("<zoneName>ap-northeast-2a</zoneName>") && has("<zoneName>ap-northeast-2c</zoneName>"));
	assert_int_equal(ec2(f, "Action=DescribeInstanceTypes&InstanceType.1=t3.2xlarge"), 200);
	assert_true(has("<defaultVCpus>8</defaultVCpus>") && has("<sizeInMiB>32768</sizeInMiB>"));
	assert_false(has("t3.nano"));
	assert_int_equal(ec2(f, "Action=DescribeInstanceTypes&InstanceType.1=q1.bogus"), 400);
	assert_true(has("<Code>InvalidInstanceType</Code>"));
	assert_int_equal(ec2(f, "Action=DescribeImages"), 200);
	assert_true(has("<name>haneul-tiny</name>"));
	assert_false(has("debian-12")); /* no images/linux in the fake images dir */
	assert_int_equal(ec2(f, "Action=DescribeImages&ImageId.1=ami-0123456789abcdef0"), 400);
	assert_true(has("<Code>InvalidAMIID.NotFound</Code>"));
	assert_int_equal(ec2(f, "Action=DescribeVpcs"), 200);
	assert_true(has("<isDefault>true</isDefault>"));
	assert_int_equal(ec2(f, "Action=DescribeSubnets"), 200);
	assert_true(has(".32.0/20</cidrBlock>") && has("<cidrBlock>10."));
	assert_int_equal(ec2(f, "Action=NoSuchThing"), 400);
	assert_true(has("<Code>InvalidAction</Code>"));
}

static void test_run_validation(void **state)
{
	struct fx *f = *state;
	char ami[32], body[512];

	tiny_ami(f, ami, sizeof(ami));
	assert_int_equal(ec2(f, "Action=RunInstances&ImageId=ami-00000000000000000&MinCount=1&MaxCount=1"), 400);
	assert_true(has("<Code>InvalidAMIID.NotFound</Code>"));
	assert_int_equal(ec2(f, "Action=RunInstances&ImageId=xyz&MinCount=1&MaxCount=1"), 400);
	assert_true(has("<Code>InvalidAMIID.Malformed</Code>"));
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&MinCount=3&MaxCount=2", ami);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>InvalidParameterValue</Code>"));
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&MinCount=1&MaxCount=1&InstanceType=t9.x", ami);
	assert_int_equal(ec2(f, body), 400);
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&MinCount=1&MaxCount=1&Placement.AvailabilityZone=us-east-1a",
		 ami);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("Invalid availability zone"));
	/* Hibernation needs a root volume that can hold the memory (1 GiB root). */
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&MinCount=1&MaxCount=1&InstanceType=t3.small"
		 "&HibernationOptions.Configured=true", ami);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>UnsupportedHibernationConfiguration</Code>"));
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&MinCount=1&MaxCount=1&InstanceType=t3.small"
		 "&HibernationOptions.Configured=true&BlockDeviceMapping.1.DeviceName=%%2Fdev%%2Fxvda"
		 "&BlockDeviceMapping.1.Ebs.VolumeSize=2", ami);
	assert_int_equal(ec2(f, body), 200);
	assert_true(has("<configured>true</configured>"));
	/* UserData: base64 only (it goes on a kernel command line), at most
	 * EC2_USER_DATA_MAX bytes decoded. */
	snprintf(body, sizeof(body), "Action=RunInstances&ImageId=%s&MinCount=1&MaxCount=1&UserData=ZWNobyBo%%20aQ%%3D%%3D",
		 ami);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("Invalid BASE64 encoding of user data."));
	/* Nothing was launched by the refused calls. */
	assert_int_equal(ec2(f, "Action=DescribeInstances"), 200);
	assert_int_equal(strstr(strstr(sb_cstr(&last.body), "<instanceId>") + 1, "<instanceId>"), NULL);
}

static void test_lifecycle_rules(void **state)
{
	struct fx *f = *state;
	char id[32], body[256], ip1[20], ip2[20];

	run1(f, "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name"
	     "&TagSpecification.1.Tag.1.Value=web1&ClientToken=abc", id, sizeof(id));
	assert_true(has("<instanceState><code>0</code><name>pending</name></instanceState>"));
	assert_true(has("<key>Name</key><value>web1</value>"));
	assert_true(has("<privateIpAddress>10.") && has(".0.4</privateIpAddress>"));
	/* ClientToken: the same launch is answered again. */
	{
		char id2[32];

		run1(f, "&ClientToken=abc", id2, sizeof(id2));
		assert_string_equal(id, id2);
	}
	/* pending: stop refused with EC2's message, start is a no-op. */
	snprintf(body, sizeof(body), "Action=StopInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>IncorrectInstanceState</Code>"));
	assert_true(has("This instance &apos;") || has("This instance '"));
	snprintf(body, sizeof(body), "Action=RebootInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 400);

	force_state(f, id, "pending", "running");
	assert_int_equal(ec2(f, "Action=DescribeInstances&Filter.1.Name=instance-state-name&Filter.1.Value.1=running"), 200);
	assert_true(has(id));
	grab("ipAddress", ip1, sizeof(ip1));
	assert_int_equal(strncmp(ip1, "127.100.", 8), 0);
	snprintf(body, sizeof(body), "Action=ModifyInstanceAttribute&InstanceId=%s&InstanceType.Value=t3.nano", id);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("is not in the &apos;stopped&apos; state") || has("is not in the 'stopped' state"));
	snprintf(body, sizeof(body), "Action=StopInstances&InstanceId.1=%s&Hibernate=true", id);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>UnsupportedHibernationConfiguration</Code>"));
	snprintf(body, sizeof(body), "Action=StopInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 200);
	assert_true(has("<currentState><code>64</code><name>stopping</name></currentState>"));
	assert_true(has("<previousState><code>16</code><name>running</name></previousState>"));
	snprintf(body, sizeof(body), "Action=StartInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("is not in a state from which it can be started."));

	clock_now += 10;
	force_state(f, id, "stopping", "stopped");
	assert_int_equal(ec2(f, "Action=DescribeInstances"), 200);
	assert_false(has("<ipAddress>"));
	assert_true(has("<code>Client.UserInitiatedShutdown</code>"));
	snprintf(body, sizeof(body), "Action=ModifyInstanceAttribute&InstanceId=%s&InstanceType.Value=t3.nano", id);
	assert_int_equal(ec2(f, body), 200);
	snprintf(body, sizeof(body), "Action=StartInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 200);
	force_state(f, id, "pending", "running");
	assert_int_equal(ec2(f, "Action=DescribeInstances"), 200);
	grab("ipAddress", ip2, sizeof(ip2));
	assert_string_not_equal(ip1, ip2); /* a new public address at every start */
	assert_true(has("<instanceType>t3.nano</instanceType>"));

	/* Billing: 10 s running at t3.micro, billed as the one-minute minimum. */
	clock_now += 30;
	assert_int_equal(ec2(f, "Action=GetBilling"), 200);
	assert_true(has("<kind>instance</kind>"));
	assert_true(has("<billedSeconds>120</billedSeconds>")); /* two starts, 60 s minimum each */

	snprintf(body, sizeof(body), "Action=TerminateInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 200);
	assert_true(has("<name>shutting-down</name>"));
	force_state(f, id, "shutting-down", "terminated");
	snprintf(body, sizeof(body), "Action=StopInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("is not in a state from which it can be stopped."));
	/* The root volume went with it (DeleteOnTermination). */
	assert_int_equal(ec2(f, "Action=DescribeVolumes"), 200);
	assert_false(has("<volumeId>"));
	assert_int_equal(ec2(f, "Action=DescribeInstances&InstanceId.1=i-00000000000000bad"), 400);
	assert_true(has("<Code>InvalidInstanceID.NotFound</Code>"));
}

static void test_tags_filters_pages(void **state)
{
	struct fx *f = *state;
	char ids[7][32], body[256], tok[64];
	int i, seen = 0;
	const char *p;

	for (i = 0; i < 7; i++)
		run1(f, i % 2 ? "&Placement.AvailabilityZone=ap-northeast-2b" : "", ids[i], sizeof(ids[i]));
	snprintf(body, sizeof(body), "Action=CreateTags&ResourceId.1=%s&ResourceId.2=%s&Tag.1.Key=role&Tag.1.Value=db",
		 ids[0], ids[3]);
	assert_int_equal(ec2(f, body), 200);
	assert_int_equal(ec2(f, "Action=DescribeInstances&Filter.1.Name=tag%3Arole&Filter.1.Value.1=d%2A"), 200);
	assert_true(has(ids[0]) && has(ids[3]) && !has(ids[1]));
	assert_int_equal(ec2(f, "Action=DescribeInstances&Filter.1.Name=availability-zone&Filter.1.Value.1=ap-northeast-2b"),
			 200);
	assert_true(has(ids[1]) && has(ids[3]) && !has(ids[0]));
	assert_int_equal(ec2(f, "Action=DescribeTags&Filter.1.Name=key&Filter.1.Value.1=role"), 200);
	assert_true(has("<resourceType>instance</resourceType>"));
	snprintf(body, sizeof(body), "Action=DeleteTags&ResourceId.1=%s&Tag.1.Key=role", ids[0]);
	assert_int_equal(ec2(f, body), 200);
	assert_int_equal(ec2(f, "Action=DescribeInstances&Filter.1.Name=tag-key&Filter.1.Value.1=role"), 200);
	assert_true(!has(ids[0]) && has(ids[3]));
	assert_int_equal(ec2(f, "Action=CreateTags&ResourceId.1=i-00000000000000bad&Tag.1.Key=a"), 400);
	assert_int_equal(ec2(f, "Action=CreateTags&ResourceId.1=i-00000000000000bad&Tag.1.Key=aws%3Ax"), 400);
	/* Pages of 5 until no nextToken; every instance exactly once. */
	tok[0] = '\0';
	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "Action=DescribeInstances&MaxResults=5%s%s", tok[0] ? "&NextToken=" : "", tok);
		assert_int_equal(ec2(f, body), 200);
		for (p = strstr(sb_cstr(&last.body), "<instanceId>"); p; p = strstr(p + 1, "<instanceId>"))
			seen++;
		if (!has("<nextToken>"))
			break;
		grab("nextToken", tok, sizeof(tok));
	}
	assert_int_equal(seen, 7);
	assert_int_equal(i, 1);
	assert_int_equal(ec2(f, "Action=DescribeInstances&NextToken=garbage"), 400);
	assert_true(has("<Code>InvalidNextToken</Code>"));
	assert_int_equal(ec2(f, "Action=DescribeInstances&Filter.1.Name=no-such-filter&Filter.1.Value.1=x"), 400);
}

static void test_volumes(void **state)
{
	struct fx *f = *state;
	char vol[32], id[32], body[256], path[PATH_MAX + 64];
	struct stat st;

	assert_int_equal(ec2(f, "Action=CreateVolume&Size=2&AvailabilityZone=ap-northeast-2a&VolumeType=gp3"), 200);
	grab("volumeId", vol, sizeof(vol));
	assert_true(has("<status>available</status>"));
	ec2_vol_path(f->api.ec2, vol, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2ll << 30);
	assert_true(st.st_blocks < 64); /* sparse */
	assert_int_equal(ec2(f, "Action=CreateVolume&Size=0&AvailabilityZone=ap-northeast-2a"), 400);
	assert_int_equal(ec2(f, "Action=CreateVolume&Size=1&AvailabilityZone=ap-northeast-2z"), 400);
	run1(f, "&Placement.AvailabilityZone=ap-northeast-2b", id, sizeof(id));
	force_state(f, id, "pending", "running");
	snprintf(body, sizeof(body), "Action=AttachVolume&VolumeId=%s&InstanceId=%s&Device=%%2Fdev%%2Fsdf", vol, id);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>InvalidVolume.ZoneMismatch</Code>"));
	force_state(f, id, "running", "stopped");
	assert_int_equal(ec2(f, "Action=CreateVolume&Size=1&AvailabilityZone=ap-northeast-2b"), 200);
	grab("volumeId", vol, sizeof(vol));
	snprintf(body, sizeof(body), "Action=AttachVolume&VolumeId=%s&InstanceId=%s&Device=%%2Fdev%%2Fxvda", vol, id);
	assert_int_equal(ec2(f, body), 400); /* the root is there */
	snprintf(body, sizeof(body), "Action=AttachVolume&VolumeId=%s&InstanceId=%s&Device=%%2Fdev%%2Fsdf", vol, id);
	assert_int_equal(ec2(f, body), 200);
	assert_true(has("<status>attached</status>"));
	snprintf(body, sizeof(body), "Action=DeleteVolume&VolumeId=%s", vol);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>VolumeInUse</Code>"));
	{
		char **args = NULL;
		size_t n = 0;

		assert_int_equal(store_tx_begin(&f->api.store, false), 0);
		assert_int_equal(ec2_vol_drive_args(f->api.ec2, id, &args, &n), 0);
		store_tx_end(&f->api.store, false);
		assert_int_equal(n, 4);
		assert_string_equal(args[0], "--drive");
		assert_non_null(strstr(args[3], vol)); /* the root first, then /dev/sdf */
		assert_null(strstr(args[1], vol));
		ec2_strv_free(args, n);
	}
	/* Termination keeps a volume attached later (DeleteOnTermination false). */
	snprintf(body, sizeof(body), "Action=TerminateInstances&InstanceId.1=%s", id);
	assert_int_equal(ec2(f, body), 200);
	assert_true(has("<currentState><code>48</code><name>terminated</name></currentState>"));
	snprintf(body, sizeof(body), "Action=DescribeVolumes&VolumeId.1=%s", vol);
	assert_int_equal(ec2(f, body), 200);
	assert_true(has("<status>available</status>"));
	snprintf(body, sizeof(body), "Action=DeleteVolume&VolumeId=%s", vol);
	assert_int_equal(ec2(f, body), 200);
	ec2_vol_path(f->api.ec2, vol, path, sizeof(path));
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(ec2(f, body), 400);
	assert_true(has("<Code>InvalidVolume.NotFound</Code>"));
}

static void test_vmsup_argv(void **state)
{
	static const char *const extra[] = { "--drive", "file=/v/vol-1.img,id=vol-1" };
	struct vmsup_spec s = { "/b/haneul-vmm", "/run/i-1", "/k/tiny.elf", NULL, "console=ttyS0", NULL, 2, 64, 30,
				extra, 2 };
	struct vmsup_argbuf buf;
	const char *a[VMSUP_MAX_ARGS];
	int n = vmsup_build_argv(&s, a, &buf), i;
	char joined[1024] = "";

	(void)state;
	assert_true(n > 0);
	assert_null(a[n]);
	for (i = 0; i < n; i++) {
		strcat(joined, a[i]);
		strcat(joined, " ");
	}
	assert_string_equal(joined, "/b/haneul-vmm --kernel /k/tiny.elf --cmdline console=ttyS0 --vcpus 2 --mem 64M "
			    "--shutdown-timeout 30 --console stdout --control /run/i-1/ctl.sock "
			    "--console-log /run/i-1/console.log --drive file=/v/vol-1.img,id=vol-1 ");
	s.resume_dir = "/run/i-1/hib";
	n = vmsup_build_argv(&s, a, &buf);
	assert_string_equal(a[1], "--resume");
	assert_string_equal(a[2], "/run/i-1/hib");
	for (i = 0; i < n; i++)
		assert_string_not_equal(a[i], "--kernel");
}

static void test_user_data_check(void **state)
{
	char big[2000];
	size_t n;

	(void)state;
	assert_int_equal(ec2_user_data_check("", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ec2_user_data_check("ZWNobyBoaQ==", &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(ec2_user_data_check("ZWNobyBoaQ", &n), 0); /* padding optional */
	assert_int_equal(n, 7);
	assert_int_equal(ec2_user_data_check("ZWNobyBoaQo=", &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(ec2_user_data_check("ZWNo", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ec2_user_data_check("ZWNobyBo aQ==", &n), -EINVAL);
	assert_int_equal(ec2_user_data_check("ZW=No", &n), -EINVAL);
	assert_int_equal(ec2_user_data_check("ZWN=", &n), 0);
	assert_int_equal(ec2_user_data_check("ZW===", &n), -EINVAL);
	assert_int_equal(ec2_user_data_check("ZWNob", &n), -EINVAL); /* 4k+1 characters */
	assert_int_equal(ec2_user_data_check("ZWN-", &n), -EINVAL);
	assert_int_equal(ec2_user_data_check("ZWNobyBoaQ==\n", &n), -EINVAL);
	/* 1368 characters = 1026 bytes with no padding, 1024 with "==". */
	memset(big, 'A', 1368);
	big[1368] = '\0';
	assert_int_equal(ec2_user_data_check(big, &n), -E2BIG);
	big[1366] = big[1367] = '=';
	assert_int_equal(ec2_user_data_check(big, &n), 0);
	assert_int_equal(n, EC2_USER_DATA_MAX);
}

static void put_file(const char *dir, const char *name, const char *text, size_t len)
{
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	fclose(fp);
}

static void console_text(const char *dir, size_t max, char *out, size_t outlen)
{
	struct strbuf b = STRBUF_INIT;
	size_t total = 9999;
	int n;

	assert_int_equal(vmsup_console_b64(dir, max, &b, &total), 0);
	n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)sb_cstr(&b), (int)b.len);
	assert_true(n >= 0 && (size_t)n < outlen);
	out[total] = '\0';
	assert_true(total <= max);
	sb_free(&b);
}

/* Console output across starts: console.log's tail moves to console.prev
 * before each spawn; GetConsoleOutput shows prev + current, last max bytes. */
static void test_vmsup_console_across_starts(void **state)
{
	char dir[] = "/tmp/haneul-unit-vmcon.XXXXXX", p[128], out[VMSUP_CONSOLE_KEEP + 8];
	char *big = malloc(VMSUP_CONSOLE_KEEP + 100);
	struct stat st;

	(void)state;
	assert_non_null(big);
	assert_non_null(mkdtemp(dir));
	console_text(dir, 64, out, sizeof(out));
	assert_string_equal(out, ""); /* nothing yet */
	assert_int_equal(vmsup_console_rotate(dir), 0); /* no console.log: no-op */
	put_file(dir, "console.log", "boot one\n", 9);
	assert_int_equal(vmsup_console_rotate(dir), 0);
	snprintf(p, sizeof(p), "%s/console.log", dir);
	assert_int_equal(stat(p, &st), -1); /* moved, so a failed spawn cannot keep it twice */
	assert_int_equal(vmsup_console_rotate(dir), 0);
	put_file(dir, "console.log", "boot two\n", 9);
	console_text(dir, 64, out, sizeof(out));
	assert_string_equal(out, "boot one\nboot two\n");
	console_text(dir, 12, out, sizeof(out)); /* the last 12 bytes only */
	assert_string_equal(out, "ne\nboot two\n");
	console_text(dir, 4, out, sizeof(out));
	assert_string_equal(out, "two\n");
	assert_int_equal(vmsup_console_rotate(dir), 0);
	console_text(dir, 64, out, sizeof(out));
	assert_string_equal(out, "boot one\nboot two\n");
	/* console.prev stays bounded: a chatty boot pushes old ones out. */
	memset(big, 'x', VMSUP_CONSOLE_KEEP + 100);
	big[VMSUP_CONSOLE_KEEP + 99] = 'E';
	put_file(dir, "console.log", big, VMSUP_CONSOLE_KEEP + 100);
	assert_int_equal(vmsup_console_rotate(dir), 0);
	snprintf(p, sizeof(p), "%s/console.prev", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, VMSUP_CONSOLE_KEEP);
	put_file(dir, "console.log", "three\n", 6);
	console_text(dir, VMSUP_CONSOLE_KEEP, out, sizeof(out));
	assert_int_equal(strlen(out), VMSUP_CONSOLE_KEEP);
	assert_string_equal(out + VMSUP_CONSOLE_KEEP - 7, "Ethree\n");
	assert_null(strstr(out, "boot"));
	unlink(p);
	snprintf(p, sizeof(p), "%s/console.log", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
	free(big);
}

static void test_vmsup_exit_and_probe(void **state)
{
	char dir[] = "/tmp/haneul-unit-vmsup.XXXXXX", p[128];
	struct vmsup_probe pr;
	int st;
	FILE *fp;

	(void)state;
	assert_int_equal(vmsup_parse_exit("0\n", &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(vmsup_parse_exit("137\n", &st), 0);
	assert_int_equal(st, 137);
	assert_int_equal(vmsup_parse_exit("", &st), -EINVAL);
	assert_int_equal(vmsup_parse_exit("256", &st), -EINVAL);
	assert_int_equal(vmsup_parse_exit("-1", &st), -EINVAL);
	assert_int_equal(vmsup_parse_exit("4x", &st), -EINVAL);

	assert_non_null(mkdtemp(dir));
	assert_int_equal(vmsup_probe(dir, &pr), 0);
	assert_int_equal(pr.state, VMSUP_ABSENT);
	/* A pid file naming a process that is not a haneul-vmm (ourselves) and
	 * no reaper: lost. */
	snprintf(p, sizeof(p), "%s/vmm.pid", dir);
	fp = fopen(p, "w");
	fprintf(fp, "%d\n", (int)getpid());
	fclose(fp);
	assert_int_equal(vmsup_probe(dir, &pr), 0);
	assert_int_equal(pr.state, VMSUP_LOST);
	assert_int_equal(vmsup_kill(dir, 0), -ESRCH);
	snprintf(p, sizeof(p), "%s/exit", dir);
	fp = fopen(p, "w");
	fputs("4\n", fp);
	fclose(fp);
	assert_int_equal(vmsup_probe(dir, &pr), 0);
	assert_int_equal(pr.state, VMSUP_EXITED);
	assert_int_equal(pr.status, 4);
	assert_int_equal(vmsup_reset(dir), 0);
	assert_int_equal(vmsup_probe(dir, &pr), 0);
	assert_int_equal(pr.state, VMSUP_ABSENT);
	/* Spawning a VMM that does not exist fails cleanly. */
	{
		struct vmsup_spec s = { "/nonexistent/haneul-vmm", dir, "/k", NULL, NULL, NULL, 1, 64, 5, NULL, 0 };
		pid_t pid;

		assert_int_equal(vmsup_spawn(&s, &pid), -ENOENT);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_catalogue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags_filters_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volumes, setup, teardown),
		cmocka_unit_test(test_vmsup_argv),
		cmocka_unit_test(test_vmsup_exit_and_probe),
		cmocka_unit_test(test_user_data_check),
		cmocka_unit_test(test_vmsup_console_across_starts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
