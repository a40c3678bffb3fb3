# bench/hibernate (issue 5): `make bench-hibernate` runs bench/hibernate/run.sh:
# save throughput vs dd, resume-to-running vs QEMU migrate-to-file/-incoming.
bench-hibernate: $(O)/haneul-vmm $(O)/images/tiny/tiny.elf
	O=$(O) bench/hibernate/run.sh

.PHONY: bench-hibernate
