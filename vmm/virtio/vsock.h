/* vmm/virtio/vsock.h - virtio-vsock with a Unix-socket host side, the way
 * Firecracker's "hybrid vsock" does it.
 *
 *   --vsock cid=3,uds=/run/vm1/vsock.sock
 *
 * Host-initiated: a host process connects to the Unix socket PATH and
 * writes "CONNECT <port>\n"; the device sends the guest a REQUEST for that
 * vsock port, and when the guest's RESPONSE arrives the host process reads
 * "OK <hostport>\n" (the host-side vsock port the device picked) and from
 * then on the socket is a byte stream to the guest's listener.  When the
 * guest refuses (RST) or does not answer within 2 s, the socket is closed
 * without the OK line; garbage instead of the CONNECT line, or no line
 * within 5 s, closes it too.
 * Guest-initiated: a guest connect() to CID 2 (host), port P becomes a
 * connect() to the Unix socket "PATH_P"; refused (RST) when nobody listens.
 *
 * Protocol: stream sockets only; REQUEST, RESPONSE, RST, SHUTDOWN, RW,
 * CREDIT_UPDATE and CREDIT_REQUEST with buf_alloc/fwd_cnt credit both ways.
 * Buffers are bounded: the guest may send at most VSOCK_BUF_ALLOC bytes
 * that the host process has not read yet (a guest sending beyond its credit
 * is reset), and host data is read from the socket only when the guest has
 * both credit and receive buffers.  At most VSOCK_MAX_CONNS connections.
 * The event queue carries TRANSPORT_RESET (vsock_transport_reset()).
 * docs/networking.md.
 */
#ifndef VMM_VIRTIO_VSOCK_H
#define VMM_VIRTIO_VSOCK_H

#include <stddef.h>

#include "vmm/mem.h"
#include "vmm/virtio/virtio.h"
#include "vmm/virtio/vsock_proto.h"

#define VSOCK_BUF_ALLOC   (128u * 1024) /* per connection, guest -> host */
#define VSOCK_MAX_CONNS   128
#define VSOCK_QUEUE_SIZE  256
#define VSOCK_HANDSHAKE_MS 5000         /* host client: CONNECT line */
#define VSOCK_CONNECT_MS   2000         /* guest: RESPONSE to our REQUEST */

/* The device, initialized and ready for vbus_add(); it listens on
 * cfg->uds (a stale socket file there is replaced; a live one is -EADDRINUSE).
 * NULL with errno set and err filled.  Freeing it closes every connection
 * and removes the socket file. */
struct virtio_dev *vsock_new(const struct vsock_cfg *cfg, const struct guest_mem *mem,
			     char *err, size_t errlen);

/* Drop every connection and tell the guest (TRANSPORT_RESET event), as
 * after a restore.  Any thread. */
void vsock_transport_reset(struct virtio_dev *d);

#endif
