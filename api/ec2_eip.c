/* api/ec2_eip.c - Elastic IPs: addresses from the public pool
 * (127.100.0.0/16) that stay with an instance across stop/start.  The
 * instance's public_ip column is what the forwarder serves (ec2_net.c), so
 * associating an Elastic IP with a running instance moves its traffic at
 * once; the auto-assigned address it had goes back to the pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/ec2_int.h"
#include "api/xml.h"

struct eip_row {
	char alloc[EC2_ID_LEN + 8], ip[16], inst[EC2_ID_LEN], assoc[EC2_ID_LEN + 8];
};

/* By allocation id (or public IP when by_ip). 0, -ENOENT, -EIO. */
static int eip_get(struct store *st, const char *key, bool by_ip, struct eip_row *r)
{
	sqlite3_stmt *s = store_prepare(st, by_ip ?
		"SELECT allocation_id, public_ip, instance_id, association_id FROM ec2_addresses WHERE public_ip = ?" :
		"SELECT allocation_id, public_ip, instance_id, association_id FROM ec2_addresses WHERE allocation_id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		store_col_copy(r->alloc, sizeof(r->alloc), s, 0);
		store_col_copy(r->ip, sizeof(r->ip), s, 1);
		store_col_copy(r->inst, sizeof(r->inst), s, 2);
		store_col_copy(r->assoc, sizeof(r->assoc), s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int inst_state(struct store *st, const char *id, char state[16])
{
	sqlite3_stmt *s = store_prepare(st, "SELECT state FROM ec2_instances WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		store_col_copy(state, 16, s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* The address leaves instance inst: a running instance gets a new address
 * from the pool (as EC2 does), a stopped one none; the EIP becomes idle. */
static int detach_from(struct store *st, const struct eip_row *r, time_t now)
{
	char state[16] = "", ip[16];
	int err = store_exec(st, "UPDATE ec2_addresses SET instance_id = NULL, association_id = NULL WHERE allocation_id = ?",
			r->alloc, NULL);

	if (err || !r->inst[0])
		return err;
	err = inst_state(st, r->inst, state);
	if (err)
		return err == -ENOENT ? 0 : err;
	err = store_exec(st, "UPDATE ec2_instances SET public_ip = NULL WHERE id = ?", r->inst, NULL);
	if (!err && !strcmp(state, "running")) {
		err = ec2_alloc_ip(st, EC2_PUBLIC_POOL, "public_ip", ip);
		if (!err)
			err = store_exec(st, "UPDATE ec2_instances SET public_ip = ? WHERE id = ?", ip, r->inst);
		if (!err)
			err = billing_open(st, r->alloc, "eip", "eip", 1, 0, now);
	}
	return err;
}

static int finish(struct api_req *req, struct store *st, int err)
{
	if (store_tx_end(st, err == 0) || err)
		return api_internal(req);
	ec2_kick(req->api->ec2); /* the forwarder follows public_ip */
	return 0;
}

int ec2_h_AllocateAddress(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *dom = api_param(req, "Domain");
	char alloc[EC2_ID_LEN + 8], ip[16];
	int err;

	if (dom && strcmp(dom, "vpc"))
		return api_error(req, 400, "InvalidParameterValue", "Invalid value '%s' for domain.", dom);
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = ec2_alloc_ip(st, EC2_PUBLIC_POOL, "public_ip", ip);
	if (err == -ENOSPC) {
		store_tx_end(st, false);
		return api_error(req, 400, "AddressLimitExceeded", "The maximum number of addresses has been reached.");
	}
	ec2_new_id("eipalloc-", alloc);
	if (!err)
		err = store_exec(st, "INSERT INTO ec2_addresses(allocation_id, public_ip, created) VALUES (?, ?, strftime('%s','now'))",
			    alloc, ip);
	if (!err)
		err = billing_open(st, alloc, "eip", "eip", 1, 0, req->api->now());
	if (finish(req, st, err))
		return -1;
	xml_elem(&req->out, "publicIp", ip);
	xml_elem(&req->out, "domain", "vpc");
	xml_elem(&req->out, "allocationId", alloc);
	xml_elem(&req->out, "publicIpv4Pool", "haneul");
	xml_elem(&req->out, "networkBorderGroup", req->api->region);
	return 0;
}

int ec2_h_AssociateAddress(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *alloc = api_param(req, "AllocationId"), *pub = api_param(req, "PublicIp");
	const char *inst = api_param_required(req, "InstanceId");
	bool reassoc = api_param(req, "AllowReassociation") && !strcasecmp(api_param(req, "AllowReassociation"), "true");
	char state[16] = "", assoc[EC2_ID_LEN + 8], old_alloc[EC2_ID_LEN + 8] = "";
	struct eip_row r;
	sqlite3_stmt *s;
	time_t now = req->api->now();
	int err;

	if (!inst)
		return -1;
	if (!alloc && !pub)
		return api_error(req, 400, "MissingParameter", "Either AllocationId or PublicIp must be specified");
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = eip_get(st, alloc ? alloc : pub, !alloc, &r);
	if (err == -ENOENT) {
		store_tx_end(st, false);
		return alloc ? api_error(req, 400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", alloc) :
		       api_error(req, 400, "InvalidAddress.NotFound", "Address '%s' not found.", pub);
	}
	if (!err)
		err = inst_state(st, inst, state);
	if (err == -ENOENT) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", inst);
	}
	if (err) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	if (!strcmp(state, "terminated") || !strcmp(state, "shutting-down")) {
		store_tx_end(st, false);
		return api_error(req, 400, "IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.",
				 inst);
	}
	if (r.inst[0] && strcmp(r.inst, inst) && !reassoc) {
		store_tx_end(st, false);
		return api_error(req, 400, "Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s",
				 r.alloc, r.assoc);
	}
	/* Another Elastic IP on this instance goes first. */
	s = store_prepare(st, "SELECT allocation_id FROM ec2_addresses WHERE instance_id = ? AND allocation_id != ?");
	if (s) {
		sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r.alloc, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			store_col_copy(old_alloc, sizeof(old_alloc), s, 0);
		sqlite3_finalize(s);
	}
	if (old_alloc[0]) {
		err = store_exec(st, "UPDATE ec2_addresses SET instance_id = NULL, association_id = NULL WHERE allocation_id = ?",
			    old_alloc, NULL);
		if (!err)
			err = billing_open(st, old_alloc, "eip", "eip", 1, 0, now);
	}
	if (!err && r.inst[0] && strcmp(r.inst, inst))
		err = detach_from(st, &r, now);
	ec2_new_id("eipassoc-", assoc);
	if (!err)
		err = store_exec3(st, "UPDATE ec2_addresses SET instance_id = ?, association_id = ? WHERE allocation_id = ?", inst,
			    assoc, r.alloc);
	if (!err)
		err = store_exec(st, "UPDATE ec2_instances SET public_ip = ? WHERE id = ?", r.ip, inst);
	if (!err && !strcmp(state, "running"))
		err = billing_close(st, r.alloc, "eip", now);
	if (finish(req, st, err))
		return -1;
	sb_puts(&req->out, "<return>true</return>");
	xml_elem(&req->out, "associationId", assoc);
	return 0;
}

int ec2_h_DisassociateAddress(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *assoc = api_param(req, "AssociationId"), *pub = api_param(req, "PublicIp");
	struct eip_row r;
	sqlite3_stmt *s;
	int err = -ENOENT;

	if (!assoc && !pub)
		return api_error(req, 400, "MissingParameter", "Either AssociationId or PublicIp must be specified");
	if (store_tx_begin(st, true))
		return api_internal(req);
	if (assoc) {
		s = store_prepare(st, "SELECT allocation_id FROM ec2_addresses WHERE association_id = ?");
		if (s) {
			sqlite3_bind_text(s, 1, assoc, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW) {
				char a[EC2_ID_LEN + 8];

				store_col_copy(a, sizeof(a), s, 0);
				sqlite3_finalize(s);
				s = NULL;
				err = eip_get(st, a, false, &r);
			}
			sqlite3_finalize(s);
		}
	} else {
		err = eip_get(st, pub, true, &r);
		if (!err && !r.inst[0])
			err = -ENOENT;
	}
	if (err == -ENOENT) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidAssociationID.NotFound", "The association ID '%s' does not exist",
				 assoc ? assoc : pub);
	}
	if (!err)
		err = detach_from(st, &r, req->api->now());
	if (finish(req, st, err))
		return -1;
	sb_puts(&req->out, "<return>true</return>");
	return 0;
}

int ec2_h_ReleaseAddress(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *alloc = api_param(req, "AllocationId"), *pub = api_param(req, "PublicIp");
	struct eip_row r;
	int err;

	if (!alloc && !pub)
		return api_error(req, 400, "MissingParameter", "Either AllocationId or PublicIp must be specified");
	if (store_tx_begin(st, true))
		return api_internal(req);
	err = eip_get(st, alloc ? alloc : pub, !alloc, &r);
	if (err == -ENOENT) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist",
				 alloc ? alloc : pub);
	}
	if (!err && r.inst[0]) {
		store_tx_end(st, false);
		return api_error(req, 400, "InvalidIPAddress.InUse", "Address %s is in use.", r.ip);
	}
	if (!err)
		err = store_exec(st, "DELETE FROM ec2_addresses WHERE allocation_id = ?", r.alloc, NULL);
	if (!err)
		err = billing_close(st, r.alloc, "eip", req->api->now());
	if (finish(req, st, err))
		return -1;
	sb_puts(&req->out, "<return>true</return>");
	return 0;
}

int ec2_h_DescribeAddresses(struct api_req *req)
{
	struct store *st = &req->api->store;
	struct ec2_filter f[EC2_MAX_FILTERS];
	const char **allocs = NULL, **ips = NULL;
	size_t nf, na, ni, i;
	sqlite3_stmt *s;
	int ret = -1;

	if (ec2_filters_parse(req, f, &nf) || ec2_list(req, "AllocationId", &allocs, &na) ||
	    ec2_list(req, "PublicIp", &ips, &ni))
		goto out;
	if (store_tx_begin(st, false)) {
		api_internal(req);
		goto out;
	}
	s = store_prepare(st, "SELECT a.allocation_id, a.public_ip, a.instance_id, a.association_id, i.private_ip"
			      " FROM ec2_addresses a LEFT JOIN ec2_instances i ON i.id = a.instance_id ORDER BY a.created, a.rowid");
	sb_puts(&req->out, "<addressesSet>");
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		char a[EC2_ID_LEN + 8], ip[16], inst[EC2_ID_LEN], assoc[EC2_ID_LEN + 8], priv[16];
		bool keep = na == 0 && ni == 0;

		store_col_copy(a, sizeof(a), s, 0);
		store_col_copy(ip, sizeof(ip), s, 1);
		store_col_copy(inst, sizeof(inst), s, 2);
		store_col_copy(assoc, sizeof(assoc), s, 3);
		store_col_copy(priv, sizeof(priv), s, 4);
		for (i = 0; i < na; i++)
			keep = keep || !strcmp(allocs[i], a);
		for (i = 0; i < ni; i++)
			keep = keep || !strcmp(ips[i], ip);
		for (i = 0; i < nf && keep; i++)
			if (!strcmp(f[i].name, "allocation-id"))
				keep = ec2_filter_match(&f[i], a);
			else if (!strcmp(f[i].name, "instance-id"))
				keep = ec2_filter_match(&f[i], inst);
			else if (!strcmp(f[i].name, "public-ip"))
				keep = ec2_filter_match(&f[i], ip);
			else if (!strcmp(f[i].name, "domain"))
				keep = ec2_filter_match(&f[i], "vpc");
		if (!keep)
			continue;
		sb_puts(&req->out, "<item>");
		xml_elem(&req->out, "publicIp", ip);
		xml_elem(&req->out, "allocationId", a);
		xml_elem(&req->out, "domain", "vpc");
		if (inst[0]) {
			xml_elem(&req->out, "instanceId", inst);
			xml_elem(&req->out, "associationId", assoc);
			xml_elem(&req->out, "privateIpAddress", priv);
		}
		xml_elem(&req->out, "publicIpv4Pool", "haneul");
		xml_elem(&req->out, "networkBorderGroup", req->api->region);
		sb_puts(&req->out, "<tagSet/></item>");
	}
	sb_puts(&req->out, "</addressesSet>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (!s) {
		api_internal(req);
		goto out;
	}
	ret = 0;
out:
	free(allocs);
	free(ips);
	return ret;
}
