/* lb/wheel.c - hashed timer wheel (see wheel.h). */
#include "lb/wheel.h"

#include <string.h>

void wheel_init(struct wheel *w, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	w->tick = now / WHEEL_TICK_MS;
}

void wheel_del(struct wheel *w, struct wtimer *t)
{
	if (!t->pprev)
		return;
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
	w->armed--;
}

void wheel_add(struct wheel *w, struct wtimer *t, uint64_t at)
{
	uint64_t tk = at / WHEEL_TICK_MS;
	struct wtimer **head;

	wheel_del(w, t);
	if (tk < w->tick)
		tk = w->tick;
	head = &w->slot[tk % WHEEL_SLOTS];
	t->at = at;
	t->next = *head;
	if (*head)
		(*head)->pprev = &t->next;
	*head = t;
	t->pprev = head;
	w->armed++;
}

void wheel_run(struct wheel *w, uint64_t now)
{
	uint64_t end = now / WHEEL_TICK_MS;

	/* after a long stall, one pass over every slot is enough */
	if (end > w->tick + WHEEL_SLOTS)
		w->tick = end - WHEEL_SLOTS;
	for (; w->tick <= end; w->tick++) {
		struct wtimer **pp = &w->slot[w->tick % WHEEL_SLOTS];

		while (*pp) {
			struct wtimer *t = *pp;

			if (t->at > now) {
				pp = &t->next;
				continue;
			}
			wheel_del(w, t);
			t->fire(t, now);
			pp = &w->slot[w->tick % WHEEL_SLOTS]; /* the list may have changed */
		}
	}
	w->tick = end; /* the current tick is revisited: timers due later in it */
}
