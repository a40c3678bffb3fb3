/* api/ec2_net.h - instance networking for EC2: the default VPC as a network
 * namespace with a bridge (common/netns.h, docs/networking.md), one tap per
 * instance (kept for the instance's life, like its private address), and the
 * public addresses: a TCP forwarder in haneuld that listens on each running
 * instance's public address (127.100.0.0/16 on the host's loopback) and
 * relays connections to the instance's private address inside the VPC.
 *
 * Everything here is optional: without CAP_NET_ADMIN (or when the VPC cannot
 * be created) instances run without a network and ec2_net_enabled() is
 * false; the reason is logged once. */
#ifndef API_EC2_NET_H
#define API_EC2_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ec2_net;

/* data_dir names the VPC namespace ("hn-" + hash of it); cidr is the
 * default VPC's.  Never fails: *out is NULL when networking is off. */
void ec2_net_new(const char *data_dir, const char *cidr, struct ec2_net **out);
void ec2_net_free(struct ec2_net *n);
bool ec2_net_enabled(const struct ec2_net *n);

/* For the VMM of instance id with address private_ip: creates its tap (if
 * missing) and fills the --net value and the guest's "ip=... gw=..."
 * arguments.  0 or -errno. */
int ec2_net_instance(struct ec2_net *n, const char *id, const char *private_ip, char *net_arg, size_t net_len,
		     char *cmdline_arg, size_t cmd_len);
/* Removes the instance's tap (termination). */
void ec2_net_instance_gone(struct ec2_net *n, const char *id);

struct ec2_fwd_map {
	uint32_t public_ip;  /* host order */
	uint32_t private_ip;
};

/* The forwarder's wanted listeners (copied); the forwarder thread opens
 * and closes listeners to match.  Port 80 only. */
void ec2_net_forward(struct ec2_net *n, const struct ec2_fwd_map *maps, size_t count);

/* The tap name of an instance ("hnt" + 8 hex digits of its hash). */
void ec2_net_tap_name(const char *id, char out[16]);

#endif
