#!/usr/bin/env bash
# haneul-agent on the host (no guest): the HTTP service inside a network
# namespace this test creates, the daemon start-up, and the control protocol
# over the --vsock-unix test transport (same code as AF_VSOCK, other address
# family).  The AF_VSOCK path itself needs vsock loopback (CID 1) in the local
# kernel; without it those cases SKIP with the reason.  Cases:
# tests/integration/agent_cases.py.  Needs root (ip netns) and python3.
source "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
AGENT=$BUILD/haneul-agent
PY=/usr/bin/python3
IID=i-0agenttest
HTTP_CASES="agent_http_root_is_instance_id agent_http_health_ok agent_http_burn_200ms
 agent_http_burn_bounds agent_http_health_responsive_during_burn agent_http_burn_uses_cpu
 agent_http_keep_alive agent_http_pipelined_requests agent_http_body_is_skipped
 agent_http_http10_closes agent_http_404_and_405 agent_http_malformed_is_400
 agent_http_oversized_header_is_431 agent_http_unfinished_request_times_out_408
 agent_http_many_connections agent_http_table_full_is_survived"
CTL_CASES="ready_event commands_on_ready_connection ping_and_metadata garbage_gets_error_replies
 long_line_is_refused shutdown_and_reboot_replies unbind_virtio reconnects_after_host_drop"
OTHER_CASES="agent_sigterm_clean_exit agent_usage_errors agent_daemon_serves_when_parent_exits agent_daemon_bind_failure_exits_1"
skip_all() {
	local c
	for c in $OTHER_CASES $HTTP_CASES; do skip "$c" "$1"; done
	for c in $CTL_CASES; do skip "agent_ctl_$c" "$1"; skip "agent_vsock_loopback_$c" "$1"; done
	exit 0
}
[ "$(id -u)" = 0 ] || skip_all "needs root (ip netns add)"
command -v ip >/dev/null || skip_all "ip (iproute2) not installed"
[ -x "$PY" ] || skip_all "$PY missing"
[ -x "$AGENT" ] || skip_all "$AGENT not built"

# LeakSanitizer's exit-time check was seen to hang (its tracer waiting in
# do_wait, the process spinning) for an agent killed here under load; leaks
# are checked by the unit tests, the daemons here run with the other checks.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
NS=haneul-agt-$$
TMP=$(tmpdir_new)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	# The daemon case leaves a daemon whose pid only the namespace knows.
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
	sleep 0.2
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS" || skip_all "ip netns add failed"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
echo "console=ttyS0 haneul.instance_id=$IID haneul.user_data=IyEvYmluL3NoCmVjaG8gaGkK quiet" >"$TMP/cmdline"

# wait_port PORT: until something accepts on 127.0.0.1:PORT in the namespace (5 s).
wait_port() {
	in_ns "$PY" - "$1" <<-'PYEOF'
	import socket, sys, time
	for _ in range(100):
	    try:
	        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
	        sys.exit(0)
	    except OSError:
	        time.sleep(0.05)
	sys.exit(1)
	PYEOF
}
get_health() { # PORT -> prints the body of GET /health or fails
	in_ns "$PY" -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:%s/health' % sys.argv[1], timeout=5).read().decode().strip())" "$1"
}

# agent_pid PORT: the agent serving PORT in our namespace (ip and timeout sit above it).
agent_pid() {
	local p
	for p in $(ip netns pids "$NS"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = haneul-agent ] &&
			tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--port $1 " && { echo "$p"; return; }
	done
	echo 0
}

# -- usage errors: exit 2, one line naming the option
ok=1
for args in "--port 70000" "--port x" "--power maybe" "--instance-id bad/id" "--log file" "--header-timeout 5" "extra"; do
	# shellcheck disable=SC2086
	out=$("$AGENT" $args 2>&1); rc=$?
	if [ $rc -ne 2 ] || [ "$(wc -l <<<"$out")" -ne 1 ]; then ok=0; echo "args '$args': rc=$rc out=$out"; fi
done
[ $ok = 1 ] && pass agent_usage_errors || fail agent_usage_errors "see above"

# -- daemon: the parent exits 0 only once the port is served
if in_ns timeout 10 "$AGENT" --no-vsock --port 8081 --cmdline "$TMP/cmdline" --log stderr 2>"$TMP/daemon.log" &&
	[ "$(get_health 8081 2>&1)" = ok ]; then
	pass agent_daemon_serves_when_parent_exits
else
	fail agent_daemon_serves_when_parent_exits "$(cat "$TMP/daemon.log")"
fi
in_ns timeout 10 "$AGENT" --no-vsock --port 8081 --log stderr 2>"$TMP/daemon2.log"
rc=$?
if [ $rc = 1 ] && grep -q "cannot listen on TCP port 8081" "$TMP/daemon2.log"; then
	pass agent_daemon_bind_failure_exits_1
else
	fail agent_daemon_bind_failure_exits_1 "rc=$rc: $(cat "$TMP/daemon2.log")"
fi

# -- HTTP
in_ns timeout 600 "$AGENT" --foreground --no-vsock --port 8080 --header-timeout 1000 \
	--cmdline "$TMP/cmdline" 2>"$TMP/http.log" &
PIDS+=($!)
if wait_port 8080; then
	APID=$(agent_pid 8080)
	in_ns timeout 240 "$PY" "$HERE/agent_cases.py" http 127.0.0.1 8080 "$APID" "$IID"
	kill -0 "$APID" 2>/dev/null || echo "FAIL: agent_http_survives: the agent died: $(tail -n 5 "$TMP/http.log")"
else
	for c in $HTTP_CASES; do fail "$c" "agent did not listen: $(tail -n 3 "$TMP/http.log")"; done
fi

# -- control protocol over the Unix test transport, with a fake sysfs
fs=$TMP/sysfs/bus/platform/drivers/virtio-mmio
mkdir -p "$fs/LNRO0005:01/virtio1/block/vdb"
: >"$fs/unbind"
echo 0x0002 >"$fs/LNRO0005:01/virtio1/device"
echo vol-0data >"$fs/LNRO0005:01/virtio1/block/vdb/serial"
in_ns timeout 600 "$AGENT" --foreground --vsock-unix "$TMP/v" --power none --sysfs "$TMP/sysfs" \
	--port 8082 --cmdline "$TMP/cmdline" 2>"$TMP/ctl.log" &
PIDS+=($!)
in_ns timeout 120 "$PY" "$HERE/agent_cases.py" ctl "$TMP/v" "$TMP/ctl.log" "$TMP/sysfs" "$IID"

# -- real AF_VSOCK over the loopback transport (CID 1), when this kernel has it.
# Without it a connect to CID 1 or to our own CID is sent through the
# machine's virtio-vsock transport to whatever hosts this machine, so the
# test does not try it.
why=""
command -v modprobe >/dev/null && modprobe vsock_loopback 2>/dev/null
if [ ! -d /sys/module/vsock_loopback ] && ! { [ -r /proc/config.gz ] && zcat /proc/config.gz | grep -q '^CONFIG_VSOCKETS_LOOPBACK=y'; }; then
	why="this kernel ($(uname -r)) has no vsock loopback transport (CONFIG_VSOCKETS_LOOPBACK not built in, no vsock_loopback module): AF_VSOCK to CID 1 cannot be tested here; the --vsock-unix cases above cover the protocol"
elif [ ! -c /dev/vsock ]; then
	why="no /dev/vsock"
fi
if [ -n "$why" ]; then
	for c in $CTL_CASES; do skip "agent_vsock_loopback_$c" "$why"; done
else
	in_ns timeout 600 "$AGENT" --foreground --host-cid 1 --ready-port 21024 --ctl-port 21025 \
		--power none --port 8083 --cmdline "$TMP/cmdline" 2>"$TMP/vsock.log" &
	PIDS+=($!)
	in_ns timeout 120 "$PY" "$HERE/agent_cases.py" vsock 21025 21024 "$IID"
fi

# -- SIGTERM: every foreground agent exits 0 within 10 s, and no log holds a
# sanitizer report (SANITIZE builds) or an unexpected error line.
ok=1 why=""
for port in 8080 8082 8083; do
	ap=$(agent_pid $port)
	[ "$ap" != 0 ] || continue
	kill -TERM "$ap"
	for _ in $(seq 100); do kill -0 "$ap" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$ap" 2>/dev/null; then
		ok=0; why+="agent on port $port still running 10 s after SIGTERM; "
		kill -KILL "$ap"
	fi
done
for p in "${PIDS[@]}"; do
	wait "$p"; rc=$? # timeout passes the agent's exit status on
	[ $rc = 0 ] || { ok=0; why+="agent under pid $p exited $rc; "; }
done
PIDS=()
logs=("$TMP/http.log" "$TMP/ctl.log" "$TMP/daemon.log")
[ -f "$TMP/vsock.log" ] && logs+=("$TMP/vsock.log")
if grep -qE "Sanitizer|runtime error|: error: " "${logs[@]}"; then
	ok=0; why+=$(grep -hE -A3 "Sanitizer|runtime error|: error: " "${logs[@]}" | head -n 20)
fi
[ $ok = 1 ] && pass agent_sigterm_clean_exit || fail agent_sigterm_clean_exit "$why"
exit 0
