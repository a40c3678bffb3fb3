#!/usr/bin/env bash
# bench/io/run.sh - block I/O inside a Linux guest, haneul-vmm against QEMU
# -M microvm with virtio-blk on the same raw file, in one nested outer VM
# (tests/nested/harness.sh; see docs/testing-nested.md).  Not a test: it
# prints figures and ratios and asserts nothing.
#
#   RUNS=3 MIB=64 SECS=4 bench/io/run.sh        (make bench-io)
#
# Both VMMs: buffered host I/O on the same file (haneul: preadv/pwritev on
# its worker thread, FLUSH = fdatasync; QEMU: cache=writeback, aio=threads,
# the same semantics), O_DIRECT inside the guest (bench/io/iotool): 1 MiB
# sequential write (+ fdatasync) and read, 4 KiB random read and write at
# queue depth 1.  The file lives in the outer VM's tmpfs (it has no disk),
# so the figures measure the virtio path and the VMM, not a disk.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O=$root/$O ;; esac
RUNS=${RUNS:-3} MIB=${MIB:-64} SECS=${SECS:-4}
out=$O/bench/io
mkdir -p "$out"
for f in "$O/haneul-vmm" "$O/bench/iotool" "$O/images/linux/initrd.img"; do
	[ -e "$f" ] || { echo "bench/io: $f missing (make bench-io builds it)" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "bench/io: qemu-system-x86_64 missing (apt-get install -y qemu-system-x86)" >&2; exit 1; }

echo "bench/io: $RUNS runs each, $MIB MiB sequential, ${SECS}s per random test (outer VM under TCG, a few minutes)" >&2
raw=$out/nested.txt
O=$O "$root/tests/nested/harness.sh" --timeout $((120 + RUNS * 240)) \
	--file "$here/nested.sh:bin/bench-io-nested.sh" -- \
	"RUNS=$RUNS MIB=$MIB SECS=$SECS sh /haneul/bin/bench-io-nested.sh" >"$raw" 2>&1
hrc=$?
grep -v '^BENCH ' "$raw" | sed 's/^/  | /' >&2
[ "$hrc" = 0 ] || echo "bench/io: nested run ended with status $hrc (console: $O/nested/console.log)" >&2

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
get() { grep "^BENCH $1 [0-9]* $2 " "$raw" | sed -n "s/.* $3=\([0-9.]*\).*/\1/p" | median; }

printf '%-10s %14s %14s %14s   %s\n' op haneul-vmm qemu-microvm haneul/qemu runs
for op in seqwrite seqread; do
	h=$(get haneul $op mbps) q=$(get qemu $op mbps)
	printf '%-10s %11s MB/s %9s MB/s %14s   %s/%s\n' $op "$h" "$q" "$(ratio "$h" "$q")" \
		"$(grep -c "^BENCH haneul [0-9]* $op " "$raw")" "$(grep -c "^BENCH qemu [0-9]* $op " "$raw")"
done
for op in randread randwrite; do
	h=$(get haneul $op iops) q=$(get qemu $op iops)
	printf '%-10s %11s IOPS %9s IOPS %14s   %s/%s\n' $op "$h" "$q" "$(ratio "$h" "$q")" \
		"$(grep -c "^BENCH haneul [0-9]* $op " "$raw")" "$(grep -c "^BENCH qemu [0-9]* $op " "$raw")"
done
echo "(medians; raw lines in $raw; higher is better for both, ratio > 1 = haneul-vmm faster)"
