/* lb/ctl.h - the control protocol of haneul-lb: one JSON object per line on
 * a Unix socket, one JSON line back (docs/lb.md).
 *   {"cmd":"apply","config":{...}}  -> {"ok":true,"generation":N} | {"ok":false,"error":"..."}
 *   {"cmd":"health"}                -> target states with reason codes
 *   {"cmd":"stats"}                 -> request counters
 *   {"cmd":"get-config"}            -> {"ok":true,"config":{...}|null}
 *   {"cmd":"ping"}                  -> {"ok":true,"workers":N}
 */
#ifndef LB_CTL_H
#define LB_CTL_H

#include <stddef.h>

struct lb;

#define LB_CTL_LINE_MAX (16u * 1024 * 1024)

/* Handle one request line (NUL-terminated, newline stripped).  Returns the
 * reply (malloc'd, caller frees, no newline) or NULL when out of memory. */
char *lb_ctl_handle(struct lb *lb, const char *line);

#endif
