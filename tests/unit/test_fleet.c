/* tests/unit/test_fleet.c - ELBv2, launch templates, Auto Scaling and
 * CloudWatch in-process: api_init() + ec2_new() without the supervisor,
 * elbv2_new() without a data plane, asg_new() without the fleet thread
 * (asg_round() is called by hand), signed requests through api_handle().
 * Also the pure helpers (capacity, AZ choice, scale-in choice, times). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "api/api.h"
#include "api/asg.h"
#include "api/cw.h"
#include "api/ec2.h"
#include "api/ec2_int.h"
#include "api/elbv2.h"
#include "common/log.h"

struct fx {
	struct api api;
	char dir[64];
	char key[64], secret[64];
};

static struct api_http_resp last;

static int call(struct fx *f, const char *service, const char *body)
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

	sigv4_format_amz_date(time(NULL), date);
	sigv4_hex_sha256(body, strlen(body), hash);
	assert_int_equal(sigv4_sign(&r, f->key, f->secret, date, "ap-northeast-2", service,
				    "content-type;host;x-amz-date", &auth), 0);
	h[3].value = auth.p;
	sb_free(&last.body);
	memset(&last, 0, sizeof(last));
	sb_init(&last.body);
	api_handle(&f->api, &in, &last);
	sb_free(&auth);
	return last.status;
}

static bool has(const char *s)
{
	return strstr(sb_cstr(&last.body), s) != NULL;
}

static int count(const char *s)
{
	int n = 0;

	for (const char *p = sb_cstr(&last.body); (p = strstr(p, s)); p++)
		n++;
	return n;
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

/* URL-encodes s into out (for ARNs in bodies). */
static void enc(const char *s, char *out, size_t n)
{
	struct strbuf b = STRBUF_INIT;

	query_uri_encode(&b, s, strlen(s), false);
	snprintf(out, n, "%s", sb_cstr(&b));
	sb_free(&b);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128], line[256], rk[64] = "", rs[64] = "";
	struct ec2_config cfg = { "/nonexistent/haneul-vmm", NULL, false, 30, 32 };
	struct fx tmp;
	FILE *fp;

	log_init("test_fleet", LOG_ERROR);
	strcpy(f->dir, "/tmp/haneul-unit-fleet.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(api_init(&f->api, f->dir, "ap-northeast-2"), 0);
	snprintf(path, sizeof(path), "%s/images", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(line, sizeof(line), "%s/images/tiny", f->dir);
	assert_int_equal(mkdir(line, 0700), 0);
	snprintf(line, sizeof(line), "%s/images/tiny/tiny.elf", f->dir);
	fp = fopen(line, "w");
	assert_non_null(fp);
	fputs("not really an ELF", fp);
	fclose(fp);
	cfg.images_dir = path;
	assert_int_equal(ec2_new(&f->api, &cfg), 0);
	assert_int_equal(elbv2_new(&f->api, NULL), 0);
	assert_int_equal(cw_new(&f->api, 60), 0);
	assert_int_equal(asg_new(&f->api, NULL), 0);
	snprintf(path, sizeof(path), "%s/root-credentials", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		sscanf(line, "aws_access_key_id = %63s", rk);
		sscanf(line, "aws_secret_access_key = %63s", rs);
	}
	fclose(fp);
	tmp = *f;
	snprintf(tmp.key, sizeof(tmp.key), "%s", rk);
	snprintf(tmp.secret, sizeof(tmp.secret), "%s", rs);
	snprintf(f->key, sizeof(f->key), "%s", rk);
	snprintf(f->secret, sizeof(f->secret), "%s", rs);
	assert_int_equal(call(f, "iam", "Action=CreateUser&UserName=ops"), 200);
	assert_int_equal(call(f, "iam", "Action=AttachUserPolicy&UserName=ops&PolicyArn="
				      "arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAmazonEC2FullAccess"), 200);
	assert_int_equal(call(f, "iam", "Action=CreateAccessKey&UserName=ops"), 200);
	grab("AccessKeyId", f->key, sizeof(f->key));
	grab("SecretAccessKey", f->secret, sizeof(f->secret));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	asg_free(&f->api);
	cw_free(&f->api);
	elbv2_free(&f->api);
	ec2_free(&f->api);
	api_fini(&f->api);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	sb_free(&last.body);
	memset(&last, 0, sizeof(last));
	free(f);
	return 0;
}

static void test_pure(void **state)
{
	const int c1[] = { 2, 1, 1 }, c2[] = { 0, 0 };
	struct asg_member m[] = {
		{ "a", 100, false }, { "a", 50, true }, { "b", 10, false }, { "a", 70, false },
	};
	struct asg_member p[] = { { "a", 1, true }, { "b", 2, true } };
	time_t t;

	(void)state;
	assert_int_equal(asg_tt_capacity(2, 100, 50), 4);
	assert_int_equal(asg_tt_capacity(2, 60, 50), 3);
	assert_int_equal(asg_tt_capacity(4, 0, 50), 0);
	assert_int_equal(asg_tt_capacity(3, 50, 50), 3);
	assert_int_equal(asg_pick_launch_az(c1, 3), 1);
	assert_int_equal(asg_pick_launch_az(c2, 2), 0);
	/* AZ a holds 3: its oldest unprotected one (70), not the protected 50
	 * nor the older instance of the smaller AZ b. */
	assert_int_equal(asg_pick_scale_in(m, 4), 3);
	assert_int_equal(asg_pick_scale_in(p, 2), -1);
	assert_int_equal(cw_parse_time("2026-11-30T08:00:00Z", &t), 0);
	assert_int_equal(t, 1796025600);
	assert_int_equal(cw_parse_time("2026-11-30T08:00:00.500+01:00", &t), 0);
	assert_int_equal(t, 1796025600 - 3600);
	assert_int_equal(cw_parse_time("1796025600", &t), 0);
	assert_int_equal(t, 1796025600);
	assert_int_equal(cw_parse_time("yesterday", &t), -EINVAL);
	assert_int_equal(cw_parse_time("2026-11-30T08:00:00Zjunk", &t), -EINVAL);
}

static void ids(struct fx *f, char *vpc, char *s1, char *s2)
{
	char *p;

	assert_int_equal(call(f, "ec2", "Action=DescribeVpcs&Version=2016-11-15"), 200);
	grab("vpcId", vpc, 32);
	assert_int_equal(call(f, "ec2", "Action=DescribeSubnets&Version=2016-11-15"), 200);
	grab("subnetId", s1, 40);
	p = strstr(sb_cstr(&last.body), "</item>");
	assert_non_null(p);
	p = strstr(p, "<subnetId>");
	assert_non_null(p);
	snprintf(s2, 40, "%.*s", (int)strcspn(p + 10, "<"), p + 10);
}

static void test_elbv2(void **state)
{
	struct fx *f = *state;
	char vpc[32], s1[40], s2[40], body[2048], tg[256], lb[256], etg[400], elb[400], lis[400], elis[600];

	ids(f, vpc, s1, s2);
	/* Ranges: AWS's, enforced here (haneul-lb itself takes fractions of a second). */
	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=HTTP&Port=80&VpcId=%s"
		 "&HealthCheckIntervalSeconds=301", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	assert_true(has("<Code>ValidationError</Code>"));
	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=HTTP&Port=80&VpcId=%s"
		 "&HealthyThresholdCount=11", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=HTTP&Port=80&VpcId=%s"
		 "&Matcher.HttpCode=600", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=UDP&Port=80&VpcId=%s", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=HTTP&Port=80&VpcId=%s"
		 "&HealthCheckPath=%%2Fhealth&HealthCheckIntervalSeconds=5", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_true(has("<HealthCheckTimeoutSeconds>4</HealthCheckTimeoutSeconds>"));
	assert_true(has("<HealthyThresholdCount>5</HealthyThresholdCount>"));
	assert_true(has("<Matcher><HttpCode>200</HttpCode></Matcher>"));
	grab("TargetGroupArn", tg, sizeof(tg));
	enc(tg, etg, sizeof(etg));
	/* Same name, same settings: the same group; different: Duplicate. */
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_true(has(tg));
	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=HTTP&Port=81&VpcId=%s", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	assert_true(has("DuplicateTargetGroupName"));

	snprintf(body, sizeof(body), "Action=CreateLoadBalancer&Name=web&Subnets.member.1=%s", s1);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	snprintf(body, sizeof(body), "Action=CreateLoadBalancer&Name=web&Subnets.member.1=%s&Subnets.member.2=%s", s1, s2);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_true(has("<Code>active</Code>") && has("127.101.") && has(":loadbalancer/app/web/"));
	grab("LoadBalancerArn", lb, sizeof(lb));
	enc(lb, elb, sizeof(elb));
	snprintf(body, sizeof(body), "Action=CreateListener&LoadBalancerArn=%s&Protocol=HTTP&Port=80"
		 "&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn=%s", elb, etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	grab("ListenerArn", lis, sizeof(lis));
	enc(lis, elis, sizeof(elis));
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	assert_true(has("DuplicateListener"));
	snprintf(body, sizeof(body), "Action=CreateRule&ListenerArn=%s&Priority=7&Conditions.member.1.Field=path-pattern"
		 "&Conditions.member.1.Values.member.1=%%2Fapi%%2F%%2A&Actions.member.1.Type=fixed-response"
		 "&Actions.member.1.FixedResponseConfig.StatusCode=418", elis);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	assert_true(has("PriorityInUse"));
	snprintf(body, sizeof(body), "Action=DescribeRules&ListenerArn=%s", elis);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_int_equal(count("<IsDefault>"), 2);
	assert_true(has("<Priority>default</Priority>") && has("<Values><member>/api/*</member></Values>"));
	snprintf(body, sizeof(body), "Action=DescribeTargetGroups&TargetGroupArns.member.1=%s", etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_true(has(lb)); /* LoadBalancerArns */
	snprintf(body, sizeof(body), "Action=DeleteTargetGroup&TargetGroupArn=%s", etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	assert_true(has("ResourceInUse"));
	snprintf(body, sizeof(body), "Action=ModifyTargetGroupAttributes&TargetGroupArn=%s"
		 "&Attributes.member.1.Key=deregistration_delay.timeout_seconds&Attributes.member.1.Value=3601", etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	/* Instance targets must be running. */
	snprintf(body, sizeof(body), "Action=RegisterTargets&TargetGroupArn=%s&Targets.member.1.Id=i-0000000000000dead",
		 etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 400);
	assert_true(has("InvalidTarget"));
	snprintf(body, sizeof(body), "Action=DescribeTargetHealth&TargetGroupArn=%s&Targets.member.1.Id=i-0000000000000dead",
		 etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_true(has("<State>unused</State>") && has("Target.NotRegistered"));
	/* Delete: listener (and its rules) with the load balancer, then the group. */
	snprintf(body, sizeof(body), "Action=DeleteLoadBalancer&LoadBalancerArn=%s", elb);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200); /* idempotent */
	snprintf(body, sizeof(body), "Action=DeleteTargetGroup&TargetGroupArn=%s", etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_int_equal(call(f, "elasticloadbalancing", "Action=DescribeLoadBalancers"), 200);
	assert_false(has("<member>"));
}

static void force_running(struct fx *f)
{
	struct store *st = &f->api.store;
	sqlite3_stmt *s;

	assert_int_equal(store_tx_begin(st, true), 0);
	s = store_prepare(st, "UPDATE ec2_instances SET state = 'running' WHERE state = 'pending'");
	assert_non_null(s);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	assert_int_equal(store_tx_end(st, true), 0);
}

static void force_terminated(struct fx *f)
{
	struct store *st = &f->api.store;
	sqlite3_stmt *s;

	assert_int_equal(store_tx_begin(st, true), 0);
	s = store_prepare(st, "UPDATE ec2_instances SET state = 'terminated' WHERE state = 'shutting-down'");
	assert_non_null(s);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	assert_int_equal(store_tx_end(st, true), 0);
}

static void put_cpu(struct fx *f, const char *grp, double v, int n)
{
	struct store *st = &f->api.store;
	char dims[128];
	time_t now = time(NULL);

	snprintf(dims, sizeof(dims), "AutoScalingGroupName=%s", grp);
	assert_int_equal(store_tx_begin(st, true), 0);
	for (int i = n; i > 0; i--)
		assert_int_equal(cw_put(st, "AWS/EC2", "CPUUtilization", dims, now - 60L * i - 3600, v, "Percent"), 0);
	assert_int_equal(store_tx_end(st, true), 0);
}

static void test_lt_and_asg(void **state)
{
	struct fx *f = *state;
	char vpc[32], s1[40], s2[40], body[2048], ami[32], tg[256], etg[400];

	ids(f, vpc, s1, s2);
	assert_int_equal(call(f, "ec2", "Action=DescribeImages&Version=2016-11-15&Filter.1.Name=name"
				     "&Filter.1.Value.1=haneul-tiny"), 200);
	grab("imageId", ami, sizeof(ami));
	/* Launch templates and versions. */
	snprintf(body, sizeof(body), "Action=CreateLaunchTemplate&Version=2016-11-15&LaunchTemplateName=web"
		 "&LaunchTemplateData.ImageId=%s&LaunchTemplateData.InstanceType=t3.nano", ami);
	assert_int_equal(call(f, "ec2", body), 200);
	assert_true(has("<defaultVersionNumber>1</defaultVersionNumber>"));
	assert_int_equal(call(f, "ec2", body), 400);
	assert_true(has("InvalidLaunchTemplateName.AlreadyExistsException"));
	assert_int_equal(call(f, "ec2", "Action=CreateLaunchTemplateVersion&Version=2016-11-15&LaunchTemplateName=web"
				     "&SourceVersion=1&LaunchTemplateData.InstanceType=t3.micro"), 200);
	assert_true(has("<versionNumber>2</versionNumber>") && has(ami) && has("t3.micro"));
	assert_int_equal(call(f, "ec2", "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
				     "&LaunchTemplateName=web&LaunchTemplateVersion.1=%24Latest"), 200);
	assert_int_equal(count("<versionNumber>"), 1);
	assert_true(has("<versionNumber>2</versionNumber>"));
	assert_int_equal(call(f, "ec2", "Action=DescribeLaunchTemplates&Version=2016-11-15&LaunchTemplateName.1=nope"), 400);

	snprintf(body, sizeof(body), "Action=CreateTargetGroup&Name=web&Protocol=HTTP&Port=80&VpcId=%s", vpc);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	grab("TargetGroupArn", tg, sizeof(tg));
	enc(tg, etg, sizeof(etg));
	snprintf(body, sizeof(body), "Action=CreateAutoScalingGroup&AutoScalingGroupName=web&LaunchTemplate."
		 "LaunchTemplateName=web&LaunchTemplate.Version=%%24Latest&MinSize=2&MaxSize=1&VPCZoneIdentifier=%s%%2C%s", s1, s2);
	assert_int_equal(call(f, "autoscaling", body), 400);
	assert_true(has("Max bound, 1, must be greater than or equal to min bound, 2"));
	snprintf(body, sizeof(body), "Action=CreateAutoScalingGroup&AutoScalingGroupName=web&LaunchTemplate."
		 "LaunchTemplateName=web&LaunchTemplate.Version=%%24Latest&MinSize=2&MaxSize=4&VPCZoneIdentifier=%s%%2C%s"
		 "&TargetGroupARNs.member.1=%s&HealthCheckType=ELB&DefaultInstanceWarmup=0", s1, s2, etg);
	assert_int_equal(call(f, "autoscaling", body), 200);
	assert_true(has("<CreateAutoScalingGroupResponse") && !has("CreateAutoScalingGroupResult"));
	assert_int_equal(call(f, "autoscaling", body), 400);
	assert_true(has("AlreadyExists"));

	/* The reconciler launches 2, one per AZ; running -> InService + registered. */
	asg_round(&f->api, time(NULL), false);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_int_equal(count("<LifecycleState>Pending</LifecycleState>"), 2);
	assert_true(has("ap-northeast-2a") && has("ap-northeast-2b"));
	force_running(f);
	asg_round(&f->api, time(NULL), false);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_int_equal(count("<LifecycleState>InService</LifecycleState>"), 2);
	assert_true(has("<Version>2</Version>"));
	snprintf(body, sizeof(body), "Action=DescribeTargetHealth&TargetGroupArn=%s", etg);
	assert_int_equal(call(f, "elasticloadbalancing", body), 200);
	assert_int_equal(count("<Id>i-"), 2);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeScalingActivities&AutoScalingGroupName=web"), 200);
	assert_int_equal(count("<StatusCode>Successful</StatusCode>"), 2);
	assert_true(has("a user request created an AutoScalingGroup changing the desired capacity from 0 to 2."));
	assert_true(has("an instance was started in response to a difference between desired and actual capacity, "
			"increasing the capacity from 0 to 2."));

	/* Target tracking: 3 periods at 100 % of a 50 % target -> 4 (max). */
	assert_int_equal(call(f, "autoscaling", "Action=PutScalingPolicy&AutoScalingGroupName=web&PolicyName=cpu"
				     "&PolicyType=TargetTrackingScaling&TargetTrackingConfiguration.PredefinedMetricSpecification."
				     "PredefinedMetricType=ASGAverageCPUUtilization&TargetTrackingConfiguration.TargetValue=50.0"), 200);
	assert_int_equal(count("<AlarmName>TargetTracking-web-Alarm"), 2);
	put_cpu(f, "web", 100, 2);
	asg_round(&f->api, time(NULL), true);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_true(has("<DesiredCapacity>2</DesiredCapacity>")); /* no instance datapoint: no third group point */
	{
		struct store *st = &f->api.store;
		sqlite3_stmt *s;

		assert_int_equal(store_tx_begin(st, true), 0);
		s = store_prepare(st, "INSERT INTO cw_data SELECT 'AWS/EC2', 'CPUUtilization', 'InstanceId=' || id, "
				      "strftime('%s','now') - 30, 100, 'Percent' FROM asg_instances");
		assert_non_null(s);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		assert_int_equal(store_tx_end(st, true), 0);
	}
	asg_round(&f->api, time(NULL), true);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_true(has("<DesiredCapacity>4</DesiredCapacity>"));
	assert_int_equal(call(f, "autoscaling", "Action=DescribeScalingActivities&AutoScalingGroupName=web"), 200);
	assert_true(has("a monitor alarm TargetTracking-web-AlarmHigh-") &&
		    has("triggered policy cpu changing the desired capacity from 2 to 4."));
	assert_int_equal(call(f, "autoscaling", "Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=2"), 200);
	assert_int_equal(call(f, "autoscaling", "Action=DeletePolicy&AutoScalingGroupName=web&PolicyName=cpu"), 200);
	asg_round(&f->api, time(NULL), false);
	asg_round(&f->api, time(NULL), false);
	force_terminated(f);
	asg_round(&f->api, time(NULL), false);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_int_equal(count("<InstanceId>"), 2);

	/* SetDesiredCapacity bounds, scale-in with protection. */
	assert_int_equal(call(f, "autoscaling", "Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=5"), 400);
	assert_true(has("above max value 4"));
	assert_int_equal(call(f, "autoscaling", "Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=3"), 200);
	asg_round(&f->api, time(NULL), false);
	force_running(f);
	asg_round(&f->api, time(NULL), false);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_int_equal(count("<LifecycleState>InService</LifecycleState>"), 3);
	assert_int_equal(call(f, "autoscaling", "Action=DeleteAutoScalingGroup&AutoScalingGroupName=web"), 400);
	assert_true(has("ResourceInUse"));
	assert_int_equal(call(f, "autoscaling", "Action=SetDesiredCapacity&AutoScalingGroupName=web&DesiredCapacity=2"), 200);
	asg_round(&f->api, time(NULL), false); /* deregistered (drained at once without haneul-lb) */
	asg_round(&f->api, time(NULL), false); /* terminated */
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_int_equal(count("<LifecycleState>Terminating</LifecycleState>"), 1);
	force_terminated(f);
	asg_round(&f->api, time(NULL), false);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_int_equal(count("<LifecycleState>InService</LifecycleState>"), 2);
	assert_int_equal(count("<InstanceId>"), 2);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeScalingActivities&AutoScalingGroupName=web&MaxRecords=1"), 200);
	assert_true(has("Terminating EC2 instance: i-") && has("was selected for termination.") &&
		    has("shrinking the capacity from 3 to 2.") && has("<NextToken>"));

	/* Force delete: everything terminated, then the group goes. */
	assert_int_equal(call(f, "autoscaling", "Action=DeleteAutoScalingGroup&AutoScalingGroupName=web&ForceDelete=true"), 200);
	asg_round(&f->api, time(NULL), false);
	asg_round(&f->api, time(NULL), false);
	force_terminated(f);
	asg_round(&f->api, time(NULL), false);
	asg_round(&f->api, time(NULL), false);
	assert_int_equal(call(f, "autoscaling", "Action=DescribeAutoScalingGroups"), 200);
	assert_false(has("<member>"));
	assert_int_equal(call(f, "ec2", "Action=DeleteLaunchTemplate&Version=2016-11-15&LaunchTemplateName=web"), 200);
}

static void test_cloudwatch(void **state)
{
	struct fx *f = *state;

	put_cpu(f, "g", 40, 5);
	assert_int_equal(call(f, "monitoring", "Action=ListMetrics&Namespace=AWS%2FEC2"), 200);
	assert_true(has("<Name>AutoScalingGroupName</Name><Value>g</Value>"));
	assert_int_equal(call(f, "monitoring", "Action=GetMetricStatistics&Namespace=AWS%2FEC2&MetricName=CPUUtilization"
				     "&Dimensions.member.1.Name=AutoScalingGroupName&Dimensions.member.1.Value=g"
				     "&StartTime=2000-01-01T00%3A00%3A00Z&EndTime=2100-01-01T00%3A00%3A00Z&Period=86400"
				     "&Statistics.member.1=Average&Statistics.member.2=SampleCount"), 400);
	assert_true(has("InvalidParameterCombination")); /* too many datapoints */
	{
		char body[1024];
		time_t now = time(NULL);

		snprintf(body, sizeof(body), "Action=GetMetricStatistics&Namespace=AWS%%2FEC2&MetricName=CPUUtilization"
			 "&Dimensions.member.1.Name=AutoScalingGroupName&Dimensions.member.1.Value=g&StartTime=%ld"
			 "&EndTime=%ld&Period=3600&Statistics.member.1=Average&Statistics.member.2=SampleCount",
			 (long)(now - 7200), (long)now);
		assert_int_equal(call(f, "monitoring", body), 200);
		assert_true(has("<Average>40</Average>") && has("<Unit>Percent</Unit>"));
	}
	assert_int_equal(call(f, "monitoring", "Action=GetMetricStatistics&Namespace=AWS%2FEC2&MetricName=CPUUtilization"
				     "&StartTime=2000-01-01T00%3A00%3A00Z&EndTime=2000-01-01T01%3A00%3A00Z&Period=60"
				     "&Statistics.member.1=Median"), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pure),
		cmocka_unit_test_setup_teardown(test_elbv2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lt_and_asg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloudwatch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
