/* common/nsenter.h - run the calling thread inside a named network
 * namespace (/run/netns/NAME, as `ip netns add` creates them) for a moment:
 * open a socket or a tap there, then come back.  No libnl: haneul-vmm uses
 * it to open `--net tap=T,netns=NAME`.
 *
 * setns(CLONE_NEWNET) changes only the calling thread, and a socket or tap
 * fd opened inside keeps its namespace after the thread leaves.
 */
#ifndef COMMON_NSENTER_H
#define COMMON_NSENTER_H

#define NSENTER_RUN_DIR "/run/netns"

/* fd (O_CLOEXEC) of /run/netns/NAME, or -errno (-EINVAL for a bad name,
 * -ENOENT when there is no such namespace).  Caller closes. */
int nsenter_open(const char *name);

/* Move the calling thread into namespace NAME.  *saved gets an fd of the
 * namespace it was in; pass it to nsenter_restore(), which goes back and
 * closes it.  0 or -errno (nothing changed on error). */
int nsenter_enter(const char *name, int *saved);
int nsenter_restore(int saved);

#endif
