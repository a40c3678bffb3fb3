/* images/tiny/net.c - see net.h.
 *
 * Every received byte is checked against the frame length before use; every
 * transmitted frame is built in a vnet transmit buffer of VNET_FRAME_MAX.
 * TCP follows RFC 793/9293 for a passive-open server with RFC 5961's
 * challenge ACKs; it only accepts in-order data (out-of-order segments are
 * dropped and answered with a duplicate ACK, so the peer retransmits) and
 * sends go-back-N from snd_una when the retransmission timer fires. */
#include "images/tiny/net.h"
#include "images/tiny/util.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define IP_HLEN 20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define TCP_HLEN 20
#define ARP_LEN 28

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define TCP_OUR_MSS 1460
#define TCP_DEFAULT_MSS 536
#define TCP_RTO_INIT_US 500000u       /* no RTT estimate: between Linux's 200 ms floor and RFC 6298's 1 s */
#define TCP_RTO_MAX_US 4000000u
#define TCP_MAX_RETRIES 8
#define TCP_TIME_WAIT_US 1000000u     /* short: 8 slots, and we close first */
#define TCP_IDLE_US 30000000u         /* a connection with no progress for 30 s is reset */
#define NET_POLL_BUDGET 32            /* frames per net_poll call */

enum tcp_state {
	TCP_FREE = 0,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSING,
	TCP_TIME_WAIT,
};

static const uint8_t net_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- checksums ---- */

/* Ones' complement sum in native (little-endian) order: the folded result,
 * inverted and stored natively, lands in network order (RFC 1071). */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	uint32_t w;
	uint16_t h;

	while (n >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		n -= 2;
	}
	if (n)
		sum += *p;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TCP checksum over the pseudo header (addresses from the IP header at ip)
 * and the segment seg of len bytes. */
static uint16_t csum_tcp(const uint8_t *ip, const uint8_t *seg, size_t len)
{
	uint8_t ph[4] = { 0, IP_PROTO_TCP, (uint8_t)(len >> 8), (uint8_t)len };
	uint64_t sum = csum_add(0, ip + 12, 8);

	sum = csum_add(sum, ph, 4);
	return csum_fold(csum_add(sum, seg, len));
}

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* ---- ARP ---- */

static bool net_on_link(const struct netstack *s, uint32_t ip)
{
	return (ip & s->mask) == (s->ip & s->mask);
}

static struct arp_entry *arp_find(struct netstack *s, uint32_t ip)
{
	for (unsigned int i = 0; i < NET_ARP_ENTRIES; i++)
		if (s->arp[i].ip == ip && ip)
			return &s->arp[i];
	return NULL;
}

static void arp_learn(struct netstack *s, uint32_t ip, const uint8_t *mac)
{
	struct arp_entry *e = arp_find(s, ip);

	if (!ip || ip == s->ip || (mac[0] & 1))
		return; /* no entries for ourselves or multicast senders */
	if (!e) {
		e = &s->arp[s->arp_next];
		s->arp_next = (s->arp_next + 1) % NET_ARP_ENTRIES;
		e->ip = ip;
	}
	memcpy(e->mac, mac, 6);
}

static void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put_be16(f + 12, type);
}

static void arp_send(struct netstack *s, uint16_t op, const uint8_t *tha, uint32_t tip)
{
	uint16_t slot;
	uint8_t *f = vnet_tx_get(s->nic, &slot), *a;

	if (!f)
		return;
	eth_header(f, op == 1 ? net_bcast : tha, s->nic->mac, ETH_P_ARP);
	a = f + ETH_HLEN;
	put_be16(a, 1);            /* Ethernet */
	put_be16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, s->nic->mac, 6);
	put_be32(a + 14, s->ip);
	if (op == 1)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, tha, 6);
	put_be32(a + 24, tip);
	memset(a + ARP_LEN, 0, 18);
	vnet_tx_send(s->nic, slot, ETH_HLEN + ARP_LEN + 18); /* padded to 60 bytes */
	if (op == 1)
		s->st.arp_requests++;
	else
		s->st.arp_replies++;
}

static void arp_input(struct netstack *s, const uint8_t *a, uint32_t len)
{
	uint16_t op;
	uint32_t sip, tip;

	if (len < ARP_LEN || get_be16(a) != 1 || get_be16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4)
		return;
	op = get_be16(a + 6);
	sip = get_be32(a + 14);
	tip = get_be32(a + 24);
	if (tip != s->ip && !arp_find(s, sip))
		return; /* not about us and nobody we talk to */
	arp_learn(s, sip, a + 8);
	if (op == 1 && tip == s->ip)
		arp_send(s, 2, a + 8, sip);
}

/* ---- IPv4 output ---- */

/* Starts an IPv4 packet to dst: returns where the payload goes, or NULL
 * (no transmit buffer, or the next hop's MAC is unknown: then an ARP
 * request went out and the caller's packet is dropped; TCP retransmits). */
static uint8_t *ip_begin(struct netstack *s, uint32_t dst, uint8_t proto, uint16_t *slot)
{
	uint32_t hop = net_on_link(s, dst) ? dst : s->gw;
	struct arp_entry *e = arp_find(s, hop);
	uint8_t *f, *ip;

	if (!e) {
		if (hop)
			arp_send(s, 1, NULL, hop);
		return NULL;
	}
	f = vnet_tx_get(s->nic, slot);
	if (!f)
		return NULL;
	eth_header(f, e->mac, s->nic->mac, ETH_P_IP);
	ip = f + ETH_HLEN;
	ip[0] = 0x45;
	ip[1] = 0;
	put_be16(ip + 4, s->ip_id++);
	put_be16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	put_be32(ip + 12, s->ip);
	put_be32(ip + 16, dst);
	return ip + IP_HLEN;
}

static void ip_send(struct netstack *s, uint16_t slot, uint8_t *payload, uint16_t len)
{
	uint8_t *ip = payload - IP_HLEN;
	uint16_t c;
	uint32_t flen = ETH_HLEN + IP_HLEN + len;

	put_be16(ip + 2, (uint16_t)(IP_HLEN + len));
	ip[10] = ip[11] = 0;
	c = csum_fold(csum_add(0, ip, IP_HLEN));
	memcpy(ip + 10, &c, 2);
	if (flen < 60) { /* Ethernet minimum; the padding is not part of the packet */
		memset(ip + IP_HLEN + len, 0, 60 - flen);
		flen = 60;
	}
	vnet_tx_send(s->nic, slot, flen);
}

/* ---- ICMP ---- */

static void icmp_input(struct netstack *s, uint32_t src, const uint8_t *m, uint32_t len)
{
	uint16_t slot, c;
	uint8_t *o;

	if (len < 8 || len > VNET_FRAME_MAX - ETH_HLEN - IP_HLEN || m[0] != 8 || m[1] != 0)
		return;
	if (csum_fold(csum_add(0, m, len)) != 0)
		return;
	o = ip_begin(s, src, IP_PROTO_ICMP, &slot);
	if (!o)
		return;
	memcpy(o, m, len);
	o[0] = 0; /* echo reply */
	o[2] = o[3] = 0;
	c = csum_fold(csum_add(0, o, len));
	memcpy(o + 2, &c, 2);
	ip_send(s, slot, o, (uint16_t)len);
	s->st.icmp_echo++;
}

/* ---- TCP output ---- */

static void tcp_xmit(struct netstack *s, uint32_t rip, uint16_t lport, uint16_t rport, uint32_t seq,
		     uint32_t ack, uint8_t flags, uint16_t wnd, const char *data, uint16_t len, bool mss)
{
	uint16_t slot, c, hlen = TCP_HLEN + (mss ? 4 : 0);
	uint8_t *t = ip_begin(s, rip, IP_PROTO_TCP, &slot);

	if (!t)
		return;
	put_be16(t, lport);
	put_be16(t + 2, rport);
	put_be32(t + 4, seq);
	put_be32(t + 8, ack);
	t[12] = (uint8_t)((hlen / 4) << 4);
	t[13] = flags;
	put_be16(t + 14, wnd);
	t[16] = t[17] = 0;
	t[18] = t[19] = 0;
	if (mss) {
		t[20] = 2;
		t[21] = 4;
		put_be16(t + 22, TCP_OUR_MSS);
	}
	if (len)
		memcpy(t + hlen, data, len);
	c = csum_tcp(t - IP_HLEN, t, hlen + len);
	memcpy(t + 16, &c, 2);
	ip_send(s, slot, t, hlen + len);
}

/* RST in answer to a segment that has no connection (RFC 9293 3.10.7.1). */
static void tcp_reset_reply(struct netstack *s, uint32_t rip, uint16_t lport, uint16_t rport,
			    uint32_t seq, uint32_t ack, uint8_t flags, uint32_t seglen)
{
	if (flags & TCP_ACK)
		tcp_xmit(s, rip, lport, rport, ack, 0, TCP_RST, 0, NULL, 0, false);
	else
		tcp_xmit(s, rip, lport, rport, 0, seq + seglen, TCP_RST | TCP_ACK, 0, NULL, 0, false);
	s->st.tcp_rst_sent++;
}

static uint16_t tcp_wnd(const struct tcp_conn *c)
{
	return c->responded ? TCP_RX_MAX : (uint16_t)(TCP_RX_MAX - c->rx_len);
}

static void tcp_ack_now(struct netstack *s, struct tcp_conn *c)
{
	tcp_xmit(s, c->rip, TCP_PORT_HTTP, c->rport, c->snd_nxt, c->rcv_nxt, TCP_ACK, tcp_wnd(c), NULL, 0,
		 false);
}

static void tcp_free(struct tcp_conn *c)
{
	c->state = TCP_FREE;
}

static void tcp_abort(struct netstack *s, struct tcp_conn *c)
{
	tcp_xmit(s, c->rip, TCP_PORT_HTTP, c->rport, c->snd_nxt, c->rcv_nxt, TCP_RST | TCP_ACK, 0, NULL, 0,
		 false);
	s->st.tcp_rst_sent++;
	s->st.tcp_aborted++;
	tcp_free(c);
}

static void tcp_arm(struct tcp_conn *c, uint64_t now)
{
	c->rto_at = now + c->rto_us;
}

/* Sends what the window allows from snd_nxt: data, then our FIN.  force:
 * a retransmission timeout, which may probe a zero window with one byte.
 * Returns true if a segment went out. */
static bool tcp_output(struct netstack *s, struct tcp_conn *c, uint64_t now, bool force)
{
	uint32_t base = c->iss + 1, off, inflight, wnd, n;
	bool sent = false;
	uint8_t flags;

	if (c->state == TCP_SYN_RCVD) {
		if (!force && c->snd_nxt != c->iss)
			return false;
		tcp_xmit(s, c->rip, TCP_PORT_HTTP, c->rport, c->iss, c->rcv_nxt, TCP_SYN | TCP_ACK, tcp_wnd(c),
			 NULL, 0, true);
		c->snd_nxt = c->iss + 1;
		if (!c->rto_at)
			tcp_arm(c, now);
		return true;
	}
	for (unsigned int guard = 0; guard < TCP_TX_MAX + 2; guard++) {
		off = c->snd_nxt - base;
		if (off > c->tx_len)
			break; /* FIN already sent */
		if (off == c->tx_len && !c->fin_queued)
			break;
		inflight = c->snd_nxt - c->snd_una;
		wnd = c->snd_wnd > inflight ? c->snd_wnd - inflight : 0;
		if (!wnd && force && !inflight)
			wnd = 1;
		n = c->tx_len - off;
		if (n > c->mss)
			n = c->mss;
		if (n > wnd)
			n = wnd;
		if (n == 0 && off < c->tx_len)
			break; /* window closed: the timer probes */
		flags = TCP_ACK;
		if (n)
			flags |= TCP_PSH;
		if (c->fin_queued && off + n == c->tx_len)
			flags |= TCP_FIN;
		tcp_xmit(s, c->rip, TCP_PORT_HTTP, c->rport, c->snd_nxt, c->rcv_nxt, flags, tcp_wnd(c),
			 c->tx + off, (uint16_t)n, false);
		c->snd_nxt += n + ((flags & TCP_FIN) ? 1 : 0);
		sent = true;
		force = false;
		if (flags & TCP_FIN)
			break;
	}
	if (sent && !c->rto_at)
		tcp_arm(c, now);
	return sent;
}

/* ---- TCP input ---- */

static uint16_t tcp_parse_mss(const uint8_t *t, uint32_t hlen)
{
	uint32_t i = TCP_HLEN;
	uint16_t mss = TCP_DEFAULT_MSS;

	while (i < hlen) {
		uint8_t kind = t[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || t[i + 1] < 2 || i + t[i + 1] > hlen)
			break;
		if (kind == 2 && t[i + 1] == 4)
			mss = get_be16(t + i + 2);
		i += t[i + 1];
	}
	if (mss > TCP_OUR_MSS)
		mss = TCP_OUR_MSS;
	if (mss < 64)
		mss = 64;
	return mss;
}

static struct tcp_conn *tcp_find(struct netstack *s, uint32_t rip, uint16_t rport)
{
	for (unsigned int i = 0; i < TCP_CONNS; i++)
		if (s->tcp[i].state != TCP_FREE && s->tcp[i].rip == rip && s->tcp[i].rport == rport)
			return &s->tcp[i];
	return NULL;
}

/* A free slot, else the TIME_WAIT connection closest to its end. */
static struct tcp_conn *tcp_slot(struct netstack *s)
{
	struct tcp_conn *tw = NULL;

	for (unsigned int i = 0; i < TCP_CONNS; i++) {
		struct tcp_conn *c = &s->tcp[i];

		if (c->state == TCP_FREE)
			return c;
		if (c->state == TCP_TIME_WAIT && (!tw || c->expire_at < tw->expire_at))
			tw = c;
	}
	return tw;
}

static void tcp_accept(struct netstack *s, uint32_t rip, uint16_t rport, uint32_t seq,
		       const uint8_t *t, uint32_t hlen, uint16_t wnd, uint64_t now)
{
	struct tcp_conn *c = tcp_slot(s);

	if (!c)
		return; /* full: like a full backlog, the client's SYN retransmission retries */
	c->state = TCP_SYN_RCVD;
	c->rip = rip;
	c->rport = rport;
	c->irs = seq;
	c->rcv_nxt = seq + 1;
	s->isn_salt = s->isn_salt * 1103515245u + 12345u;
	c->iss = (uint32_t)(now * 4) ^ s->isn_salt ^ (rip * 2654435761u) ^ ((uint32_t)rport << 16);
	c->snd_una = c->iss;
	c->snd_nxt = c->iss;
	c->snd_wnd = wnd;
	c->mss = tcp_parse_mss(t, hlen);
	c->rx_len = c->tx_len = 0;
	c->fin_queued = c->responded = false;
	c->retries = 0;
	c->rto_us = TCP_RTO_INIT_US;
	c->rto_at = 0;
	c->expire_at = now + TCP_IDLE_US;
	s->st.tcp_accepted++;
	tcp_output(s, c, now, false);
}

/* The application: once the request head is in (or cannot complete),
 * queue the response and our FIN. */
static void tcp_app(struct netstack *s, struct tcp_conn *c)
{
	bool final = c->state == TCP_CLOSE_WAIT || c->rx_len == TCP_RX_MAX;
	size_t n;

	if (c->responded || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT))
		return;
	if (final && c->rx_len == 0)
		n = 0; /* closed without a request: just close */
	else {
		n = http_handle(s->http, c->rx, c->rx_len, final, c->tx, TCP_TX_MAX);
		if (!n)
			return;
	}
	c->tx_len = (uint16_t)n;
	c->responded = true;
	c->fin_queued = true;
	c->state = c->state == TCP_ESTABLISHED ? TCP_FIN_WAIT_1 : TCP_LAST_ACK;
}

static bool tcp_fin_acked(const struct tcp_conn *c)
{
	return c->fin_queued && c->snd_una == c->iss + 1 + c->tx_len + 1;
}

static void tcp_segment(struct netstack *s, struct tcp_conn *c, uint32_t seq, uint32_t ack, uint8_t flags,
			uint16_t wnd, const uint8_t *data, uint32_t dlen, uint64_t now)
{
	uint32_t seglen = dlen + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
	uint32_t rwnd = tcp_wnd(c), skip, take;
	bool acceptable, need_ack = false;

	if (c->state == TCP_SYN_RCVD && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
		if (seq == c->irs) /* our SYN-ACK was lost: send it again */
			tcp_output(s, c, now, true);
		return;
	}
	/* Acceptability (RFC 9293 3.10.7.4). */
	if (seglen == 0)
		acceptable = rwnd == 0 ? seq == c->rcv_nxt
				       : seq_le(c->rcv_nxt, seq) && seq_lt(seq, c->rcv_nxt + rwnd);
	else
		acceptable = rwnd != 0 && ((seq_le(c->rcv_nxt, seq) && seq_lt(seq, c->rcv_nxt + rwnd)) ||
					   (seq_le(c->rcv_nxt, seq + seglen - 1) &&
					    seq_lt(seq + seglen - 1, c->rcv_nxt + rwnd)));
	if (flags & TCP_RST) {
		if (seq == c->rcv_nxt)
			tcp_free(c);
		else if (acceptable)
			tcp_ack_now(s, c); /* challenge ACK (RFC 5961 3.2) */
		return;
	}
	if (!acceptable) {
		s->st.tcp_bad++;
		tcp_ack_now(s, c);
		return;
	}
	if (flags & TCP_SYN) { /* SYN on a synchronized connection: challenge ACK (RFC 5961 4.2) */
		tcp_ack_now(s, c);
		return;
	}
	if (!(flags & TCP_ACK))
		return;
	if (c->state == TCP_SYN_RCVD) {
		if (!(seq_lt(c->snd_una, ack) && seq_le(ack, c->snd_nxt))) {
			tcp_reset_reply(s, c->rip, TCP_PORT_HTTP, c->rport, seq, ack, flags, seglen);
			return;
		}
		c->state = TCP_ESTABLISHED;
	}
	if (seq_lt(c->snd_nxt, ack)) { /* acknowledges something we never sent */
		s->st.tcp_bad++;
		tcp_ack_now(s, c);
		return;
	}
	if (seq_le(c->snd_una, ack)) {
		if (seq_lt(c->snd_una, ack)) {
			c->snd_una = ack;
			c->retries = 0;
			c->rto_us = TCP_RTO_INIT_US;
			c->rto_at = 0;
			if (c->snd_una != c->snd_nxt)
				tcp_arm(c, now);
			c->expire_at = now + TCP_IDLE_US;
		}
		c->snd_wnd = wnd; /* no window scaling negotiated */
	}
	if (tcp_fin_acked(c)) {
		if (c->state == TCP_FIN_WAIT_1)
			c->state = TCP_FIN_WAIT_2;
		else if (c->state == TCP_CLOSING) {
			c->state = TCP_TIME_WAIT;
			c->expire_at = now + TCP_TIME_WAIT_US;
		} else if (c->state == TCP_LAST_ACK) {
			tcp_free(c);
			return;
		}
	}
	/* Data: in order only; trim what we already have. */
	if (seq_lt(seq, c->rcv_nxt)) {
		skip = c->rcv_nxt - seq;
		if (skip >= dlen) {
			skip = dlen;
			/* only a FIN may remain, and only if it is the next byte */
		}
		data += skip;
		dlen -= skip;
		seq += skip;
	}
	if (seq != c->rcv_nxt) {
		if (dlen || (flags & TCP_FIN))
			tcp_ack_now(s, c); /* out of order: dropped, duplicate ACK */
		goto out;
	}
	if (dlen) {
		if (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 || c->state == TCP_FIN_WAIT_2) {
			take = dlen < rwnd ? dlen : rwnd;
			if (!c->responded) {
				memcpy(c->rx + c->rx_len, data, take);
				c->rx_len = (uint16_t)(c->rx_len + take);
			}
			c->rcv_nxt += take;
			c->expire_at = now + TCP_IDLE_US;
			if (take < dlen)
				flags &= (uint8_t)~TCP_FIN; /* the FIN lies beyond our window */
		} else {
			flags &= (uint8_t)~TCP_FIN; /* data after the peer's FIN: ignore */
		}
		need_ack = true;
	}
	if ((flags & TCP_FIN) && c->state != TCP_CLOSE_WAIT && c->state != TCP_LAST_ACK &&
	    c->state != TCP_CLOSING && c->state != TCP_TIME_WAIT) {
		c->rcv_nxt++;
		need_ack = true;
		if (c->state == TCP_ESTABLISHED) {
			c->state = TCP_CLOSE_WAIT;
		} else if (c->state == TCP_FIN_WAIT_1) {
			c->state = TCP_CLOSING;
		} else if (c->state == TCP_FIN_WAIT_2) {
			c->state = TCP_TIME_WAIT;
			c->rto_at = 0;
			c->expire_at = now + TCP_TIME_WAIT_US;
		}
	} else if (flags & TCP_FIN) {
		need_ack = true; /* a retransmitted FIN: ACK it again */
		if (c->state == TCP_TIME_WAIT)
			c->expire_at = now + TCP_TIME_WAIT_US;
	}
out:
	tcp_app(s, c);
	if (tcp_output(s, c, now, false))
		need_ack = false;
	if (need_ack)
		tcp_ack_now(s, c);
}

static void tcp_input(struct netstack *s, const uint8_t *ip, const uint8_t *t, uint32_t len, uint64_t now)
{
	uint32_t rip = get_be32(ip + 12), hlen, seq, ack, seglen;
	uint16_t rport, lport, wnd;
	uint8_t flags;
	struct tcp_conn *c;

	if (len < TCP_HLEN)
		return;
	hlen = (uint32_t)(t[12] >> 4) * 4;
	if (hlen < TCP_HLEN || hlen > len || csum_tcp(ip, t, len) != 0) {
		s->st.tcp_bad++;
		return;
	}
	rport = get_be16(t);
	lport = get_be16(t + 2);
	seq = get_be32(t + 4);
	ack = get_be32(t + 8);
	flags = t[13];
	wnd = get_be16(t + 14);
	seglen = len - hlen + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
	if (rip == 0 || (rip & 0xff000000u) == 0x7f000000u || (rip | s->mask) == 0xffffffffu)
		return; /* no answers to impossible sources */

	c = lport == TCP_PORT_HTTP ? tcp_find(s, rip, rport) : NULL;
	if (c && c->state == TCP_TIME_WAIT && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    seq_lt(c->rcv_nxt, seq)) {
		tcp_free(c); /* a new incarnation (RFC 1122 4.2.2.13) */
		c = NULL;
	}
	if (c) {
		tcp_segment(s, c, seq, ack, flags, wnd, t + hlen, len - hlen, now);
		return;
	}
	if (flags & TCP_RST)
		return;
	if (lport == TCP_PORT_HTTP && (flags & (TCP_SYN | TCP_ACK | TCP_FIN)) == TCP_SYN) {
		tcp_accept(s, rip, rport, seq, t, hlen, wnd, now);
		return;
	}
	tcp_reset_reply(s, rip, lport, rport, seq, ack, flags, seglen);
}

/* ---- IPv4 input ---- */

static void ip_input(struct netstack *s, const uint8_t *f, uint32_t flen, uint64_t now)
{
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t len = flen - ETH_HLEN, hlen, tot, src;

	if (len < IP_HLEN || (ip[0] >> 4) != 4)
		goto drop;
	hlen = (uint32_t)(ip[0] & 0xf) * 4;
	tot = get_be16(ip + 2);
	if (hlen < IP_HLEN || tot < hlen || tot > len)
		goto drop;
	if (csum_fold(csum_add(0, ip, hlen)) != 0)
		goto drop;
	if (get_be16(ip + 6) & 0x3fff)
		goto drop; /* a fragment (MF or an offset): not supported */
	if (get_be32(ip + 16) != s->ip)
		goto drop;
	src = get_be32(ip + 12);
	if (net_on_link(s, src))
		arp_learn(s, src, f + 6); /* saves an ARP round trip for the reply */
	if (ip[9] == IP_PROTO_ICMP)
		icmp_input(s, src, ip + hlen, tot - hlen);
	else if (ip[9] == IP_PROTO_TCP && hlen == IP_HLEN)
		tcp_input(s, ip, ip + hlen, tot - hlen, now);
	else
		goto drop; /* (IP options with TCP: the pseudo header above would still work,
			    * but nobody sends them; UDP and the rest: not served) */
	return;
drop:
	s->st.ip_dropped++;
}

/* ---- entry points ---- */

void net_init(struct netstack *s, struct vnet *nic, struct http_ctx *http,
	      uint32_t ip, uint32_t mask, uint32_t gw, uint64_t now_us)
{
	memset(s, 0, sizeof(*s));
	s->nic = nic;
	s->http = http;
	s->ip = ip;
	s->mask = mask;
	s->gw = gw;
	s->isn_salt = (uint32_t)now_us ^ ((uint32_t)nic->mac[5] << 8) ^ nic->mac[4];
	s->ip_id = (uint16_t)now_us;
	/* Announce ourselves (gratuitous ARP) so the host's cache is fresh
	 * after a reboot with a new MAC. */
	arp_send(s, 1, NULL, ip);
}

bool net_poll(struct netstack *s, uint64_t now_us)
{
	const uint8_t *f;
	uint32_t len;
	uint16_t slot;
	bool did = false;

	for (unsigned int i = 0; i < NET_POLL_BUDGET; i++) {
		f = vnet_rx(s->nic, &len, &slot);
		if (!f)
			break;
		did = true;
		if (len >= ETH_HLEN && (mem_eq(f, s->nic->mac, 6) || mem_eq(f, net_bcast, 6))) {
			uint16_t type = get_be16(f + 12);

			if (type == ETH_P_ARP)
				arp_input(s, f + ETH_HLEN, len - ETH_HLEN);
			else if (type == ETH_P_IP)
				ip_input(s, f, len, now_us);
		}
		vnet_rx_done(s->nic, slot);
	}
	vnet_rx_flush(s->nic);
	return did;
}

uint64_t net_timers(struct netstack *s, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < TCP_CONNS; i++) {
		struct tcp_conn *c = &s->tcp[i];

		if (c->state == TCP_FREE)
			continue;
		if (c->expire_at && now >= c->expire_at) {
			if (c->state == TCP_TIME_WAIT)
				tcp_free(c);
			else
				tcp_abort(s, c);
			continue;
		}
		if (c->rto_at && now >= c->rto_at) {
			if (c->retries >= TCP_MAX_RETRIES) {
				tcp_abort(s, c);
				continue;
			}
			c->retries++;
			s->st.tcp_retransmits++;
			c->rto_us = c->rto_us * 2 > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : c->rto_us * 2;
			c->rto_at = 0;
			c->snd_nxt = c->state == TCP_SYN_RCVD ? c->iss : c->snd_una; /* go back N */
			tcp_output(s, c, now, true); /* re-arms the timer if it sent */
		}
		if (c->rto_at && (!next || c->rto_at < next))
			next = c->rto_at;
		if (c->expire_at && (!next || c->expire_at < next))
			next = c->expire_at;
	}
	return next;
}

unsigned int net_tcp_open(const struct netstack *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < TCP_CONNS; i++)
		n += s->tcp[i].state != TCP_FREE;
	return n;
}
