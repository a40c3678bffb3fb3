/* images/tiny/vnet.h - polled virtio-net driver: queue 0 receive, queue 1
 * transmit, one 2 KiB buffer per descriptor, no offloads. */
#ifndef IMAGES_TINY_VNET_H
#define IMAGES_TINY_VNET_H

#include <stdbool.h>
#include <stdint.h>

#include "images/tiny/virtio.h"

#define VNET_BUF 2048            /* per descriptor: virtio header + frame */
#define VNET_HDR 12              /* struct virtio_net_hdr (VERSION_1: with num_buffers) */
#define VNET_FRAME_MAX 1514      /* Ethernet without FCS, no GSO */
#define VNET_QSIZE 16

struct vnet {
	struct vdev dev;
	struct vq rx, tx;
	uint8_t *rxbuf;              /* VNET_QSIZE * VNET_BUF, dma memory */
	uint8_t *txbuf;
	bool rx_kick;                /* buffers handed back since the last kick */
	uint16_t tx_busy;            /* bit i: tx descriptor i is with the device */
	uint8_t mac[6];
	uint64_t rx_frames, tx_frames, rx_dropped, tx_full;
};

int vnet_init(struct vnet *n, const struct vdev *found, struct dma_area *dma);
/* Next received frame (without the virtio header) or NULL; *slot must be
 * handed back with vnet_rx_done() once the frame is processed. */
const uint8_t *vnet_rx(struct vnet *n, uint32_t *len, uint16_t *slot);
void vnet_rx_done(struct vnet *n, uint16_t slot);
/* Kicks the device if buffers were handed back (once per poll round). */
void vnet_rx_flush(struct vnet *n);
/* A frame buffer to fill (VNET_FRAME_MAX bytes), or NULL when every
 * transmit buffer is still with the device. */
uint8_t *vnet_tx_get(struct vnet *n, uint16_t *slot);
void vnet_tx_send(struct vnet *n, uint16_t slot, uint32_t len);

#endif
