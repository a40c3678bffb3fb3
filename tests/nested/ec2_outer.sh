#!/bin/sh
# tests/nested/ec2_outer.sh - runs inside the outer VM of test_ec2_linux.sh
# (busybox sh, root): haneuld with EC2 on 0.0.0.0:4566, reached from the
# host through the harness's --hostfwd.  Prints the root credentials on the
# console (the host reads the console log while the outer VM runs), then
# waits until the host says it is done (a connection to port 4567, the
# harness's second --hostfwd) or for LIMIT seconds, prints haneuld's log and
# the instances' VMM logs, checks that no VMM is left, and stops everything
# it started.
#
#   sh ec2_outer.sh HOST_EPOCH [LIMIT]
host_now=${1:-0} limit=${2:-600}
D=/tmp/hd
LOG=/tmp/haneuld.log

# SigV4 requests are refused when the clocks disagree by more than 15 min;
# the outer clock comes from QEMU's RTC, so this only matters when that
# failed.
now=$(date +%s)
if [ "$host_now" -gt 0 ] && { [ $((now - host_now)) -gt 300 ] || [ $((host_now - now)) -gt 300 ]; }; then
	date -u -s "@$host_now" >/dev/null && echo "ec2-outer: clock was $now, set to the host's $host_now"
fi
mkdir -p $D
# The host's "done": any connection to port 4567 ends this nc.
nc -l -p 4567 >/tmp/done 2>&1 &
ncpid=$!
haneuld --data-dir $D --listen 0.0.0.0:4566 --images /haneul/images --vmm /haneul/bin/haneul-vmm \
	--lb none --stop-timeout 30 >$LOG 2>&1 &
hpid=$!
i=0
while [ ! -s $D/root-credentials ] || [ ! -s $D/endpoint ]; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 $hpid 2>/dev/null; then
		echo "ec2-outer: haneuld did not come up"
		cat $LOG
		exit 1
	fi
	sleep 0.1
done
sed 's/^/@@EC2-CRED /' $D/root-credentials
echo "@@EC2-READY $(cat $D/endpoint)"

start=$(date +%s) rc=0
while kill -0 $ncpid 2>/dev/null; do
	if [ $(($(date +%s) - start)) -ge "$limit" ]; then
		echo "ec2-outer: the host did not say done within ${limit}s"
		kill $ncpid 2>/dev/null
		rc=1
		break
	fi
	if ! kill -0 $hpid 2>/dev/null; then
		echo "ec2-outer: haneuld died"
		rc=1
		break
	fi
	sleep 1
done
grep -q -- '-> terminated' $LOG || echo "ec2-outer: note: no instance was terminated"
echo "--- haneuld log (tail) ---"
tail -n 40 $LOG
for d in $D/ec2/i-*; do
	[ -d "$d" ] || continue
	echo "--- ${d##*/}: vmm.log (tail) ---"
	tail -n 15 "$d/vmm.log" 2>/dev/null
	echo "--- ${d##*/}: files ---"
	ls -la "$d" "$d/hib" 2>/dev/null
done
kill $hpid 2>/dev/null
wait $hpid
for f in $D/ec2/i-*/vmm.pid; do
	[ -f "$f" ] || continue
	p=$(cat "$f")
	if [ -n "$p" ] && grep -q haneul-vmm "/proc/$p/cmdline" 2>/dev/null; then
		echo "ec2-outer: a VMM was left running (pid $p): killing it"
		kill -9 "$p"
		rc=1
	fi
done
exit $rc
