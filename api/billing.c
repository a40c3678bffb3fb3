/* api/billing.c - billing by state, as EC2 bills: usage intervals recorded
 * when a resource enters and leaves a billed state (instance running,
 * volume existing, Elastic IP idle), priced per second from the table in
 * api/ec2_prices.def, with a minimum per interval (one minute per instance
 * start).  GetBilling (a haneul extension of the EC2 API, IAM action
 * ec2:GetBilling) shows it per resource and in total. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ec2_int.h"
#include "api/xml.h"

int billing_open(struct store *st, const char *resource, const char *kind, const char *rate_key, int64_t qty,
		 int64_t minimum_s, time_t now)
{
	sqlite3_stmt *s = store_prepare(st,
		"INSERT INTO ec2_usage(resource_id, kind, rate_key, quantity, start, minimum)"
		" SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS"
		" (SELECT 1 FROM ec2_usage WHERE resource_id = ?1 AND kind = ?2 AND end IS NULL)");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, rate_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, qty);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 6, minimum_s);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

int billing_close(struct store *st, const char *resource, const char *kind, time_t now)
{
	sqlite3_stmt *s = store_prepare(st, "UPDATE ec2_usage SET end = ?3 WHERE resource_id = ?1 AND kind = ?2 AND end IS NULL");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return err;
}

/* Cost in micro-USD of one interval. */
static double interval_cost(const char *kind, const char *rate_key, int64_t qty, int64_t billed_s)
{
	if (!strcmp(kind, "instance")) {
		const struct ec2_type *t = ec2_type_find(rate_key);

		return t ? (double)t->micro_usd_hour * (double)billed_s / 3600.0 : 0;
	}
	if (!strcmp(kind, "volume"))
		return (double)ec2_voltype_price(rate_key) * (double)qty * (double)billed_s / (30.0 * 86400.0);
	if (!strcmp(kind, "eip"))
		return (double)ec2_eip_idle_price() * (double)billed_s / 3600.0;
	return 0;
}

struct bill_item {
	char resource[EC2_ID_LEN + 8], kind[16], rate_key[32];
	int64_t seconds, billed, qty;
	double micro;
	bool open;
};

int ec2_h_GetBilling(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *only = api_param(req, "ResourceId");
	struct bill_item *items = NULL;
	size_t n = 0, cap = 0, i;
	double total = 0;
	time_t now = req->api->now();
	char when[32];
	sqlite3_stmt *s;
	int rc;

	if (store_tx_begin(st, false))
		return api_internal(req);
	s = store_prepare(st, "SELECT resource_id, kind, rate_key, quantity, start, end, minimum FROM ec2_usage ORDER BY id");
	if (!s) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(s, 0);
		const char *kind = (const char *)sqlite3_column_text(s, 1);
		const char *rate = (const char *)sqlite3_column_text(s, 2);
		int64_t qty = sqlite3_column_int64(s, 3), start = sqlite3_column_int64(s, 4);
		bool open = sqlite3_column_type(s, 5) == SQLITE_NULL;
		int64_t end = open ? (int64_t)now : sqlite3_column_int64(s, 5), min = sqlite3_column_int64(s, 6);
		int64_t dur = end > start ? end - start : 0, billed = dur < min ? min : dur;
		struct bill_item *it = NULL;

		if (only && strcmp(only, res))
			continue;
		for (i = 0; i < n && !it; i++)
			if (!strcmp(items[i].resource, res) && !strcmp(items[i].kind, kind))
				it = &items[i];
		if (!it) {
			if (n == cap) {
				struct bill_item *ni = realloc(items, (cap ? cap * 2 : 16) * sizeof(*items));

				if (!ni) {
					rc = SQLITE_NOMEM;
					break;
				}
				items = ni;
				cap = cap ? cap * 2 : 16;
			}
			it = &items[n++];
			memset(it, 0, sizeof(*it));
			snprintf(it->resource, sizeof(it->resource), "%s", res);
			snprintf(it->kind, sizeof(it->kind), "%s", kind);
		}
		/* The latest rate (an instance type can change while stopped). */
		snprintf(it->rate_key, sizeof(it->rate_key), "%s", rate);
		it->qty = qty;
		it->seconds += dur;
		it->billed += billed;
		it->open = open;
		it->micro += interval_cost(kind, rate, qty, billed);
	}
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (rc != SQLITE_DONE) {
		free(items);
		return api_internal(req);
	}
	api_format_time(now, when);
	xml_elem(&req->out, "currency", "USD");
	xml_elem(&req->out, "asOf", when);
	sb_puts(&req->out, "<itemSet>");
	for (i = 0; i < n; i++) {
		total += items[i].micro;
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "resourceId", items[i].resource);
		xml_elem(&req->out, "kind", items[i].kind);
		xml_elem(&req->out, "rateKey", items[i].rate_key);
		xml_elemf(&req->out, "quantity", "%lld", (long long)items[i].qty);
		xml_elemf(&req->out, "seconds", "%lld", (long long)items[i].seconds);
		xml_elemf(&req->out, "billedSeconds", "%lld", (long long)items[i].billed);
		xml_elem(&req->out, "accruing", items[i].open ? "true" : "false");
		xml_elemf(&req->out, "cost", "%.6f", items[i].micro / 1e6);
		sb_puts(&req->out, "</item>");
	}
	sb_puts(&req->out, "</itemSet>");
	xml_elemf(&req->out, "total", "%.6f", total / 1e6);
	free(items);
	return 0;
}
