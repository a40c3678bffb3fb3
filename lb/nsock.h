/* lb/nsock.h - TCP sockets created inside a target's network namespace.
 *
 * A socket belongs to the namespace of the thread that called socket(2), and
 * keeps it afterwards.  Workers must never setns(): so each namespace gets a
 * factory thread that enters it once (common/nsenter.h) and stays there,
 * keeping a small pool of pre-created non-blocking sockets.  A worker takes
 * one under a mutex (microseconds; it waits only when the pool is empty,
 * for the factory to make the next).  The host namespace ("" or NULL) needs
 * no factory.  Factories live until nsock_free(); one whose namespace does
 * not exist retries entering it every second and meanwhile hands out
 * -ENOENT. */
#ifndef LB_NSOCK_H
#define LB_NSOCK_H

struct nsock;

struct nsock *nsock_new(void);
void nsock_free(struct nsock *ns);    /* stops and joins every factory */

/* Make sure a factory for NETNS runs (idempotent).  0 or -errno. */
int nsock_prepare(struct nsock *ns, const char *netns);

/* A non-blocking, close-on-exec TCP socket inside NETNS (caller closes),
 * or -errno (-ENOENT: no such namespace, -ESRCH: no factory prepared). */
int nsock_socket(struct nsock *ns, const char *netns);

#endif
