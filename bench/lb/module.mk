# `make bench-lb`: bench/lb/run.sh - haneul-lb vs HAProxy (wrk, nginx backend).
# Needs Debian's nginx-light, haproxy and wrk.  Not run by `make test`.
bench-lb: $(O)/haneul-lb
	O=$(O) bench/lb/run.sh $(BENCH_LB_ARGS)

.PHONY: bench-lb
