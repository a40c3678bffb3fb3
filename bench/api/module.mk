# bench/api: `make bench-api` - signed STS GetCallerIdentity req/s and p99 with
# N keep-alive clients, haneuld vs nginx serving the same bytes (bench/api/run.sh).
$(O)/bench/api-loadgen: bench/api/loadgen.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -lpthread -o $@

bench-api: $(O)/haneuld $(O)/bench/api-loadgen
	O=$(O) bench/api/run.sh

.PHONY: bench-api
