/* images/tiny/vnet.c - see vnet.h. */
#include "images/tiny/vnet.h"
#include "images/tiny/util.h"

#define VIRTIO_NET_F_MAC 5

int vnet_init(struct vnet *n, const struct vdev *found, struct dma_area *dma)
{
	uint16_t i;
	int r;

	memset(n, 0, sizeof(*n));
	n->dev = *found;
	r = virtio_negotiate(&n->dev, 1ull << VIRTIO_NET_F_MAC);
	if (r < 0)
		return r;
	if (n->dev.features & (1ull << VIRTIO_NET_F_MAC)) {
		for (i = 0; i < 6; i++)
			n->mac[i] = virtio_cfg8(&n->dev, i);
	} else {
		/* Locally administered, fixed: the host learns it from us. */
		static const uint8_t fallback[6] = { 0x02, 0x00, 0x00, 0x7e, 0x00, 0x01 };

		memcpy(n->mac, fallback, 6);
	}
	n->rxbuf = dma_alloc(dma, VNET_QSIZE * VNET_BUF, 4096);
	n->txbuf = dma_alloc(dma, VNET_QSIZE * VNET_BUF, 4096);
	if (!n->rxbuf || !n->txbuf) {
		virtio_fail(&n->dev);
		return -3;
	}
	if (virtio_vq_init(&n->dev, &n->rx, 0, VNET_QSIZE, dma) < 0 ||
	    virtio_vq_init(&n->dev, &n->tx, 1, VNET_QSIZE, dma) < 0) {
		virtio_fail(&n->dev);
		return -4;
	}
	for (i = 0; i < n->rx.size; i++) {
		n->rx.desc[i].addr = (uintptr_t)(n->rxbuf + (uintptr_t)i * VNET_BUF);
		n->rx.desc[i].len = VNET_BUF;
		n->rx.desc[i].flags = VRING_DESC_F_WRITE;
		n->rx.desc[i].next = 0;
		vq_push(&n->rx, i);
	}
	virtio_driver_ok(&n->dev);
	vq_kick(&n->rx);
	return 0;
}

const uint8_t *vnet_rx(struct vnet *n, uint32_t *len, uint16_t *slot)
{
	uint16_t id;
	uint32_t l;

	while (vq_pop(&n->rx, &id, &l)) {
		if (id >= n->rx.size)
			continue; /* not ours: never hand it back */
		if (l <= VNET_HDR || l > VNET_BUF) {
			n->rx_dropped++;
			vnet_rx_done(n, id);
			continue;
		}
		n->rx_frames++;
		*len = l - VNET_HDR;
		*slot = id;
		return n->rxbuf + (uintptr_t)id * VNET_BUF + VNET_HDR;
	}
	return NULL;
}

void vnet_rx_done(struct vnet *n, uint16_t slot)
{
	vq_push(&n->rx, slot);
	n->rx_kick = true;
}

void vnet_rx_flush(struct vnet *n)
{
	/* One kick (a VM exit) per poll round, not per buffer. */
	if (n->rx_kick)
		vq_kick(&n->rx);
	n->rx_kick = false;
}

uint8_t *vnet_tx_get(struct vnet *n, uint16_t *slot)
{
	uint16_t id, i;
	uint32_t l;

	while (vq_pop(&n->tx, &id, &l))
		if (id < n->tx.size)
			n->tx_busy &= (uint16_t)~(1u << id);
	for (i = 0; i < n->tx.size; i++) {
		if (!(n->tx_busy & (1u << i))) {
			uint8_t *b = n->txbuf + (uintptr_t)i * VNET_BUF;

			memset(b, 0, VNET_HDR);
			*slot = i;
			return b + VNET_HDR;
		}
	}
	n->tx_full++;
	return NULL;
}

void vnet_tx_send(struct vnet *n, uint16_t slot, uint32_t len)
{
	if (slot >= n->tx.size || len > VNET_FRAME_MAX)
		return;
	n->tx.desc[slot].addr = (uintptr_t)(n->txbuf + (uintptr_t)slot * VNET_BUF);
	n->tx.desc[slot].len = VNET_HDR + len;
	n->tx.desc[slot].flags = 0;
	n->tx.desc[slot].next = 0;
	n->tx_busy |= (uint16_t)(1u << slot);
	n->tx_frames++;
	vq_push(&n->tx, slot);
	vq_kick(&n->tx);
}
