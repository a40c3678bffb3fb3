/* tests/unit/test_lb_rule.c - lb/rule.c (wildcards, conditions, priority,
 * weighted choice, fail-open target choice, redirects), lb/config.c
 * (validation) and lb/health.c (state machine, matcher), lb/wheel.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <cmocka.h>

#include "lb/health.h"
#include "lb/http.h"
#include "lb/lb.h"
#include "lb/rule.h"
#include "lb/wheel.h"

static const struct http_limits lim = { 8192, 100 };

static void test_wildcard(void **st)
{
	(void)st;
	assert_true(lb_wildcard("*.example.com", "api.example.com", 15, true));
	assert_true(lb_wildcard("*.EXAMPLE.com", "api.example.com", 15, true));
	assert_false(lb_wildcard("*.example.com", "example.com", 11, true));
	assert_true(lb_wildcard("/api/*", "/api/v1/x", 9, false));
	assert_false(lb_wildcard("/API/*", "/api/v1/x", 9, false));
	assert_true(lb_wildcard("/img/?.png", "/img/a.png", 10, false));
	assert_false(lb_wildcard("/img/?.png", "/img/ab.png", 11, false));
	assert_true(lb_wildcard("*", "", 0, false));
	assert_true(lb_wildcard("a*b*c", "axxbyyc", 7, false));
	assert_false(lb_wildcard("a*b*c", "axxbyy", 6, false));
}

static const char *CFG =
	"{\"target_groups\":["
	" {\"name\":\"api\",\"port\":81,\"targets\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\",\"port\":82}]},"
	" {\"name\":\"web\",\"port\":80,\"targets\":[{\"ip\":\"10.0.0.3\",\"netns\":\"vpc-a\"}]},"
	" {\"name\":\"canary\",\"port\":80,\"targets\":[{\"ip\":\"10.0.0.4\"}]}],"
	"\"load_balancers\":[{\"name\":\"lb\",\"listeners\":[{\"protocol\":\"HTTP\",\"address\":\"127.100.0.1\",\"port\":80,"
	" \"default_actions\":[{\"type\":\"forward\",\"target_groups\":[{\"name\":\"web\",\"weight\":3},{\"name\":\"canary\",\"weight\":1}]}],"
	" \"rules\":["
	"  {\"priority\":20,\"conditions\":[{\"field\":\"path-pattern\",\"values\":[\"/api/*\"]}],\"actions\":[{\"type\":\"forward\",\"target_group\":\"api\"}]},"
	"  {\"priority\":10,\"conditions\":[{\"field\":\"host-header\",\"values\":[\"admin.*\"]},{\"field\":\"http-request-method\",\"values\":[\"POST\"]}],"
	"    \"actions\":[{\"type\":\"fixed-response\",\"status_code\":\"403\",\"message_body\":\"no\"}]},"
	"  {\"priority\":30,\"conditions\":[{\"field\":\"http-header\",\"header_name\":\"X-Env\",\"values\":[\"stag*\"]}],\"actions\":[{\"type\":\"forward\",\"target_group\":\"canary\"}]},"
	"  {\"priority\":40,\"conditions\":[{\"field\":\"query-string\",\"values\":[{\"key\":\"v\",\"value\":\"2\"},{\"value\":\"beta\"}]}],\"actions\":[{\"type\":\"forward\",\"target_group\":\"canary\"}]},"
	"  {\"priority\":50,\"conditions\":[{\"field\":\"path-pattern\",\"values\":[\"/old/*\"]}],"
	"    \"actions\":[{\"type\":\"redirect\",\"protocol\":\"HTTPS\",\"port\":\"443\",\"path\":\"/new/#{path}\",\"status_code\":\"HTTP_302\"}]}"
	" ]}]}]}";

static struct lb_config *parse_ok(const char *json)
{
	char err[256];
	struct lb_config *c = lb_config_parse(json, err, sizeof(err));

	if (!c)
		fail_msg("parse: %s", err);
	return c;
}

static const struct lb_action *eval(struct lb_config *c, const char *reqs, struct http_msg *m,
				    struct lb_reqctx *rc)
{
	struct in_addr a;

	inet_pton(AF_INET, "192.0.2.7", &a);
	assert_true(http_parse_request(reqs, strlen(reqs), &lim, m) > 0);
	lb_reqctx_init(rc, m, a, false, 80);
	return lb_rules_eval(&c->listeners[0], rc);
}

static void test_rules(void **st)
{
	struct lb_config *c = parse_ok(CFG);
	struct http_msg m;
	struct lb_reqctx rc;
	const struct lb_action *a;

	(void)st;
	/* rules are sorted by priority */
	assert_int_equal(c->listeners[0].rules[0].priority, 10);
	a = eval(c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n", &m, &rc);
	assert_int_equal(a->type, LB_ACT_FORWARD);
	assert_string_equal(a->tgs[0].tg->name, "api");
	/* priority 10 wins over 20 when both match */
	a = eval(c, "POST /api/x HTTP/1.1\r\nHost: admin.example.com:8080\r\n\r\n", &m, &rc);
	assert_int_equal(a->type, LB_ACT_FIXED);
	assert_int_equal(a->status, 403);
	/* AND across conditions: GET does not match rule 10 */
	a = eval(c, "GET /api/x HTTP/1.1\r\nHost: admin.example.com\r\n\r\n", &m, &rc);
	assert_string_equal(a->tgs[0].tg->name, "api");
	a = eval(c, "GET / HTTP/1.1\r\nHost: a\r\nx-env: Staging\r\n\r\n", &m, &rc);
	assert_string_equal(a->tgs[0].tg->name, "canary");
	a = eval(c, "GET /?a=1&v=2 HTTP/1.1\r\nHost: a\r\n\r\n", &m, &rc);
	assert_string_equal(a->tgs[0].tg->name, "canary");
	a = eval(c, "GET /?x=BETA HTTP/1.1\r\nHost: a\r\n\r\n", &m, &rc);
	assert_string_equal(a->tgs[0].tg->name, "canary");
	a = eval(c, "GET /?v=3 HTTP/1.1\r\nHost: a\r\n\r\n", &m, &rc);
	assert_int_equal(a->ntg, 2); /* default */
	a = eval(c, "GET /old/a/b?q=1 HTTP/1.1\r\nHost: shop.example\r\n\r\n", &m, &rc);
	assert_int_equal(a->type, LB_ACT_REDIRECT);
	{
		struct strbuf loc = STRBUF_INIT;

		assert_int_equal(lb_redirect_location(a, &rc, &loc), 0);
		assert_string_equal(sb_cstr(&loc), "https://shop.example/new/old/a/b?q=1");
		sb_free(&loc);
	}
	lb_config_put(c);
}

static void test_weighted(void **st)
{
	struct lb_config *c = parse_ok(CFG);
	const struct lb_action *a = &c->listeners[0].def;
	unsigned web = 0, canary = 0;

	(void)st;
	assert_int_equal(a->total_weight, 4);
	for (uint32_t r = 0; r < 4000; r++) {
		struct lb_tg *tg = lb_fwd_pick(a, r * 2654435761u);

		if (strcmp(tg->name, "web") == 0)
			web++;
		else
			canary++;
	}
	assert_int_equal(web + canary, 4000);
	assert_in_range(web, 2800, 3200);
	lb_config_put(c);
}

static void test_tg_pick_fail_open(void **st)
{
	struct lb_config *c = parse_ok(CFG);
	struct lb_tg *api = &c->tgs[0];
	struct lb_target *t0 = api->targets[0], *t1 = api->targets[1];
	unsigned n0 = 0;

	(void)st;
	/* all initial (none healthy): fail open over both */
	for (int i = 0; i < 10; i++)
		n0 += lb_tg_pick(api, 0) == t0;
	assert_int_equal(n0, 5);
	t1->state = LB_TS_HEALTHY;
	for (int i = 0; i < 10; i++)
		assert_ptr_equal(lb_tg_pick(api, 0), t1);
	t1->draining = true;
	t0->state = LB_TS_UNHEALTHY;
	assert_ptr_equal(lb_tg_pick(api, 0), t0); /* the only one left, unhealthy: fail open */
	t0->draining = true;
	assert_null(lb_tg_pick(api, 0));          /* 503 */
	lb_config_put(c);
}

static void test_config_errors(void **st)
{
	static const struct { const char *json, *needle; } bad[] = {
		{ "[", "not valid JSON" },
		{ "{\"target_groups\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", "defined twice" },
		{ "{\"target_groups\":[{\"name\":\"a\",\"targets\":[{\"ip\":\"300.1.1.1\"}]}]}", "IPv4" },
		{ "{\"target_groups\":[{\"name\":\"a\",\"targets\":[{\"ip\":\"1.1.1.1\",\"netns\":\"../x\"}]}]}", "netns" },
		{ "{\"target_groups\":[{\"name\":\"a\",\"health_check\":{\"matcher\":\"2xx\"}}]}", "matcher" },
		{ "{\"target_groups\":[{\"name\":\"a\",\"health_check\":{\"healthy_threshold\":50}}]}", "healthy_threshold" },
		{ "{\"load_balancers\":[{\"name\":\"l\",\"listeners\":[{\"protocol\":\"HTTP\",\"address\":\"127.0.0.1\",\"port\":80,"
		  "\"default_actions\":[{\"type\":\"forward\",\"target_group\":\"nope\"}]}]}]}", "no target group" },
		{ "{\"load_balancers\":[{\"name\":\"l\",\"listeners\":[{\"protocol\":\"HTTPS\",\"address\":\"127.0.0.1\",\"port\":443,"
		  "\"default_actions\":[{\"type\":\"fixed-response\"}]}]}]}", "certificate" },
		{ "{\"load_balancers\":[{\"name\":\"l\",\"listeners\":[{\"protocol\":\"TCP\",\"address\":\"127.0.0.1\",\"port\":80,"
		  "\"default_actions\":[{\"type\":\"fixed-response\"}]}]}]}", "application load balancers take" },
		{ "{\"load_balancers\":[{\"name\":\"l\",\"listeners\":[{\"protocol\":\"HTTP\",\"address\":\"127.0.0.1\",\"port\":80,"
		  "\"default_actions\":[{\"type\":\"fixed-response\"}],\"rules\":[{\"priority\":1,\"conditions\":[{\"field\":\"path-pattern\",\"values\":[\"/\"]}],"
		  "\"actions\":[{\"type\":\"fixed-response\"}]},{\"priority\":1,\"conditions\":[{\"field\":\"path-pattern\",\"values\":[\"/\"]}],"
		  "\"actions\":[{\"type\":\"fixed-response\"}]}]}]}]}", "priority 1 used twice" },
		{ "{\"load_balancers\":[{\"name\":\"l\",\"listeners\":[{\"protocol\":\"HTTP\",\"address\":\"127.0.0.1\",\"port\":80,"
		  "\"default_actions\":[{\"type\":\"fixed-response\"}]},{\"protocol\":\"HTTP\",\"address\":\"127.0.0.1\",\"port\":80,"
		  "\"default_actions\":[{\"type\":\"fixed-response\"}]}]}]}", "defined twice" },
		{ "{\"load_balancers\":[{\"name\":\"l\",\"listeners\":[{\"protocol\":\"HTTP\",\"address\":\"127.0.0.1\",\"port\":80,"
		  "\"default_actions\":[{\"type\":\"fixed-response\"}],\"rules\":[{\"priority\":1,\"conditions\":[{\"field\":\"cookie\",\"values\":[\"/\"]}],"
		  "\"actions\":[{\"type\":\"fixed-response\"}]}]}]}]}", "unknown condition" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		struct lb_config *c = lb_config_parse(bad[i].json, err, sizeof(err));

		if (c || !strstr(err, bad[i].needle))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, bad[i].needle);
	}
}

static void test_health_sm(void **st)
{
	struct lb_hc hc;
	struct lb_hstate hs;

	(void)st;
	lb_hc_defaults(&hc, false);
	hc.healthy_threshold = 3;
	hc.unhealthy_threshold = 2;
	lb_hstate_init(&hs, &hc);
	assert_int_equal(hs.state, LB_TS_INITIAL);
	assert_string_equal(lb_hreason_code(hs.reason), "Elb.RegistrationInProgress");
	lb_hstate_update(&hs, &hc, LB_HC_OK);
	assert_int_equal(hs.state, LB_TS_INITIAL);
	assert_string_equal(lb_hreason_code(hs.reason), "Elb.InitialHealthChecking");
	lb_hstate_update(&hs, &hc, LB_HC_OK);
	assert_true(lb_hstate_update(&hs, &hc, LB_HC_OK));
	assert_int_equal(hs.state, LB_TS_HEALTHY);
	assert_null(lb_hreason_code(hs.reason));
	lb_hstate_update(&hs, &hc, LB_HC_TIMEOUT);
	assert_int_equal(hs.state, LB_TS_HEALTHY); /* one failure is not enough */
	lb_hstate_update(&hs, &hc, LB_HC_MISMATCH);
	assert_int_equal(hs.state, LB_TS_UNHEALTHY);
	assert_string_equal(lb_hreason_code(hs.reason), "Target.ResponseCodeMismatch");
	lb_hstate_update(&hs, &hc, LB_HC_TIMEOUT);
	assert_string_equal(lb_hreason_code(hs.reason), "Target.Timeout");
	lb_hstate_update(&hs, &hc, LB_HC_FAILED);
	assert_string_equal(lb_hreason_code(hs.reason), "Target.FailedHealthChecks");
	lb_hstate_update(&hs, &hc, LB_HC_OK);
	lb_hstate_update(&hs, &hc, LB_HC_OK);
	assert_int_equal(hs.state, LB_TS_UNHEALTHY);
	lb_hstate_update(&hs, &hc, LB_HC_OK);
	assert_int_equal(hs.state, LB_TS_HEALTHY);
	/* initial -> unhealthy after the unhealthy threshold */
	lb_hstate_init(&hs, &hc);
	lb_hstate_update(&hs, &hc, LB_HC_FAILED);
	lb_hstate_update(&hs, &hc, LB_HC_FAILED);
	assert_int_equal(hs.state, LB_TS_UNHEALTHY);
	hc.enabled = false;
	lb_hstate_init(&hs, &hc);
	assert_string_equal(lb_hstate_name(hs.state), "unavailable");
	assert_string_equal(lb_hreason_code(hs.reason), "Target.HealthCheckDisabled");
}

static void test_matcher(void **st)
{
	struct lb_hc hc;

	(void)st;
	lb_hc_defaults(&hc, false);
	assert_true(lb_hc_match(&hc, 200));
	assert_false(lb_hc_match(&hc, 204));
	assert_int_equal(lb_hc_parse_matcher(&hc, "200-299"), 0);
	assert_true(lb_hc_match(&hc, 204));
	assert_false(lb_hc_match(&hc, 301));
	assert_int_equal(lb_hc_parse_matcher(&hc, "200,301-302"), 0);
	assert_true(lb_hc_match(&hc, 302));
	assert_false(lb_hc_match(&hc, 204));
	assert_int_equal(lb_hc_parse_matcher(&hc, "299-200"), -EINVAL);
	assert_int_equal(lb_hc_parse_matcher(&hc, "20"), -EINVAL);
	assert_int_equal(lb_hc_parse_matcher(&hc, "200,"), -EINVAL);
	lb_hc_defaults(&hc, true);
	assert_true(lb_hc_match(&hc, 399));
}

static int fired;
static void on_fire(struct wtimer *t, uint64_t now)
{
	(void)t;
	(void)now;
	fired++;
}

static void test_wheel(void **st)
{
	struct wheel w;
	struct wtimer a = { .fire = on_fire }, b = { .fire = on_fire }, c = { .fire = on_fire };

	(void)st;
	fired = 0;
	wheel_init(&w, 1000);
	wheel_add(&w, &a, 1050);
	wheel_add(&w, &b, 1000 + WHEEL_SLOTS * WHEEL_TICK_MS + 30); /* more than one turn */
	wheel_add(&w, &c, 1200);
	wheel_del(&w, &c);
	wheel_run(&w, 1040);
	assert_int_equal(fired, 0);
	wheel_run(&w, 1060);
	assert_int_equal(fired, 1);
	wheel_run(&w, 1000 + WHEEL_TICK_MS * 10);
	wheel_run(&w, 1100 + WHEEL_SLOTS * WHEEL_TICK_MS / 2);
	assert_int_equal(fired, 1);
	wheel_run(&w, 1000 + WHEEL_SLOTS * WHEEL_TICK_MS + 40);
	assert_int_equal(fired, 2);
	assert_int_equal(w.armed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_weighted),
		cmocka_unit_test(test_tg_pick_fail_open),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_health_sm),
		cmocka_unit_test(test_matcher),
		cmocka_unit_test(test_wheel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
