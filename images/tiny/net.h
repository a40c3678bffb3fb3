/* images/tiny/net.h - the tiny guest's network stack over vnet: Ethernet,
 * ARP (reply, request, 8-entry cache), IPv4 (no fragments: dropped), ICMP
 * echo reply, and a TCP server on port 80 (up to TCP_CONNS connections,
 * retransmission with backoff, RST for closed ports and bad segments, FIN
 * handshake, MSS option) feeding http.c.  Polled; time comes from the
 * caller (microseconds). */
#ifndef IMAGES_TINY_NET_H
#define IMAGES_TINY_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "images/tiny/http.h"
#include "images/tiny/vnet.h"

#define NET_ARP_ENTRIES 8
#define TCP_CONNS 8
#define TCP_RX_MAX 1024               /* request head; also our receive window */
#define TCP_TX_MAX 512                /* whole response */
#define TCP_PORT_HTTP 80

struct arp_entry {
	uint32_t ip;                  /* 0 = free */
	uint8_t mac[6];
};

struct tcp_conn {
	uint8_t state;                /* enum tcp_state in net.c; 0 = free */
	bool fin_queued;              /* our FIN follows tx[] */
	bool responded;               /* response queued: further data is discarded */
	uint8_t retries;
	uint16_t rport;
	uint16_t mss;                 /* peer's, clamped */
	uint32_t rip;
	uint32_t iss, irs;
	uint32_t snd_una, snd_nxt, snd_wnd;
	uint32_t rcv_nxt;
	uint32_t rto_us;
	uint64_t rto_at;              /* retransmit deadline, 0 = not armed */
	uint64_t expire_at;           /* TIME_WAIT end, or idle limit */
	uint16_t rx_len, tx_len;
	char rx[TCP_RX_MAX];
	char tx[TCP_TX_MAX];          /* tx[0] has sequence number iss + 1 */
};

struct net_stats {
	uint64_t arp_replies, arp_requests, icmp_echo, ip_dropped;
	uint64_t tcp_accepted, tcp_rst_sent, tcp_retransmits, tcp_bad, tcp_aborted;
};

struct netstack {
	struct vnet *nic;
	struct http_ctx *http;
	uint32_t ip, mask, gw;        /* host byte order */
	uint16_t ip_id;
	uint32_t isn_salt;
	unsigned int arp_next;        /* round-robin replacement */
	struct arp_entry arp[NET_ARP_ENTRIES];
	struct tcp_conn tcp[TCP_CONNS];
	struct net_stats st;
};

void net_init(struct netstack *s, struct vnet *nic, struct http_ctx *http,
	      uint32_t ip, uint32_t mask, uint32_t gw, uint64_t now_us);
/* Handles every frame pending (bounded per call); true if it did anything. */
bool net_poll(struct netstack *s, uint64_t now_us);
/* Runs due timers; returns the next deadline (us) or 0 when none is armed. */
uint64_t net_timers(struct netstack *s, uint64_t now_us);
unsigned int net_tcp_open(const struct netstack *s);

#endif
