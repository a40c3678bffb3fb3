/* vmm/virtio/rng.h - virtio-rng (entropy source): fills the guest's
 * writable buffers from getrandom(2), at most VRNG_RATE bytes per second
 * (token bucket, VRNG_BURST bytes deep) so a guest cannot turn the host's
 * CPU into its random-number generator.  Over the budget, requests wait
 * (a timerfd on the device's worker) - they are not failed. */
#ifndef VMM_VIRTIO_RNG_H
#define VMM_VIRTIO_RNG_H

#include "vmm/virtio/virtio.h"

#define VRNG_RATE   (1u << 20)    /* bytes per second */
#define VRNG_BURST  (64u << 10)
#define VRNG_QUEUE_SIZE 64

/* NULL with errno set on failure.  Freed by virtio_dev_free(). */
struct virtio_dev *vrng_new(const struct guest_mem *mem);

#endif
