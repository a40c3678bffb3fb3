/* lb/wheel.h - hashed timer wheel for one worker (not thread-safe).
 * 10 ms ticks, 512 slots; a timer further out than one turn stays in its
 * slot and is skipped until its time comes.  Owners re-arm lazily: a timer
 * fires at its `at`, and the owner checks its own deadline. */
#ifndef LB_WHEEL_H
#define LB_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define WHEEL_TICK_MS 10u
#define WHEEL_SLOTS   512u

struct wtimer {
	struct wtimer *next, **pprev;  /* pprev NULL = not armed */
	uint64_t at;                   /* ms, monotonic */
	void (*fire)(struct wtimer *t, uint64_t now);
};

struct wheel {
	struct wtimer *slot[WHEEL_SLOTS];
	uint64_t tick;                 /* next tick to run */
	unsigned armed;
};

void wheel_init(struct wheel *w, uint64_t now);
void wheel_add(struct wheel *w, struct wtimer *t, uint64_t at);   /* re-arms if armed */
void wheel_del(struct wheel *w, struct wtimer *t);                /* no-op when not armed */
static inline bool wheel_armed(const struct wtimer *t) { return t->pprev != 0; }
/* Fire every timer due at now (callbacks may add/delete timers). */
void wheel_run(struct wheel *w, uint64_t now);

#endif
