#!/usr/bin/env bash
# haneul-lb end to end: real backends on loopback and inside a network
# namespace this test creates, driven through the control socket
# (tests/integration/lb_cases.py has the cases).
source "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
LB=$BUILD/haneul-lb
PY=/usr/bin/python3
if [ ! -x "$LB" ]; then skip lb_proxy "$LB not built"; exit 0; fi
if [ ! -x "$PY" ]; then skip lb_proxy "$PY missing"; exit 0; fi
if ! command -v curl >/dev/null; then skip lb_proxy "curl not installed"; exit 0; fi
TMP=$(tmpdir_new)
NS=""
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
	NS=hnlbt$$
	if ip netns add "$NS" 2>/dev/null; then
		ip -n "$NS" link set lo up
	else
		NS=""
	fi
fi
[ -z "$NS" ] && echo "note: no network namespace (needs root + ip): the netns case SKIPs"
cleanup() {
	[ -n "$NS" ] && ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
timeout 300 "$PY" "$HERE/lb_cases.py" "$BUILD" "$TMP" $NS
rc=$?
if [ $rc -ne 0 ]; then
	fail lb_cases "lb_cases.py exited $rc"
	tail -20 "$TMP/lb.err" 2>/dev/null
fi
exit 0
