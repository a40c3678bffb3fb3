#!/usr/bin/env bash
# bench/lb/run.sh - haneul-lb against HAProxy on the same nginx backend, in
# the same run, with wrk: requests/s and p99 latency for L7 keep-alive, L7
# new connections (Connection: close) and L4 (TCP passthrough), at 1 and 2
# worker threads (HAProxy: nbthread).  Prints a table and ratios
# (haneul-lb / HAProxy; > 1 is better for req/s, < 1 is better for p99).
#
#   bench/lb/run.sh [SECONDS_PER_POINT (3)] [CONNECTIONS (32)]
# Needs: nginx (nginx-light), haproxy, wrk (Debian packages).
set -u
cd "$(dirname "$0")/../.."
O=${O:-build}
DUR=${1:-3}
CONNS=${2:-32}
LB=$O/haneul-lb
for t in nginx haproxy wrk; do
	command -v $t >/dev/null || { echo "bench-lb: $t not installed (apt-get install -y nginx-light haproxy wrk)"; exit 1; }
done
[ -x "$LB" ] || { echo "bench-lb: $LB not built (make $LB)"; exit 1; }
TMP=$(mktemp -d /tmp/haneul-bench-lb.XXXXXX)
B=$((31000 + $$ % 70 * 10)) # below the ephemeral range
NG=$B HL7=$((B + 1)) HL4=$((B + 2)) XL7=$((B + 3)) XL4=$((B + 4))
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null
	sleep 0.3
	rm -rf "$TMP"
}
trap cleanup EXIT

cat >"$TMP/nginx.conf" <<NGX
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server { listen 127.0.0.1:$NG reuseport; location / { return 200 "hello from nginx, a small static answer\n"; } }
}
NGX
nginx -c "$TMP/nginx.conf" -p "$TMP" || exit 1

lbconf() {
	cat <<JSON
{"target_groups":[
  {"name":"ng","protocol":"HTTP","port":$NG,"health_check":{"interval":1,"healthy_threshold":2},"targets":[{"ip":"127.0.0.1"}]},
  {"name":"ng4","protocol":"TCP","port":$NG,"health_check":{"interval":1,"healthy_threshold":2},"targets":[{"ip":"127.0.0.1"}]}],
 "load_balancers":[
  {"name":"a","type":"application","listeners":[{"protocol":"HTTP","address":"127.0.0.1","port":$HL7,
     "default_actions":[{"type":"forward","target_group":"ng"}]}]},
  {"name":"n","type":"network","listeners":[{"protocol":"TCP","address":"127.0.0.1","port":$HL4,
     "default_actions":[{"type":"forward","target_group":"ng4"}]}]}]}
JSON
}
haconf() {
	cat <<CFG
global
  nbthread $1
  maxconn 8000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend l7
  mode http
  option forwardfor
  bind 127.0.0.1:$XL7
  default_backend ng
backend ng
  mode http
  http-reuse always
  server s1 127.0.0.1:$NG
listen l4
  mode tcp
  bind 127.0.0.1:$XL4
  server s1 127.0.0.1:$NG
CFG
}

# wrk -> "RPS P99_MS"
point() { # url extra-args...
	local url=$1; shift
	wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$@" "$url" >"$TMP/wrk.out" 2>&1
	grep -q 'Requests/sec' "$TMP/wrk.out" || { echo "bench-lb: wrk $url failed:" >&2; cat "$TMP/wrk.out" >&2; }
	awk '
		/Requests\/sec/ { rps = $2 }
		/^ +99%/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
			   if (u == "us") v /= 1000; else if (u == "s") v *= 1000; p99 = v }
		/Non-2xx|Socket errors/ { err = err $0 }
		END { printf "%.0f %.2f\n", rps, p99; if (err != "") print err > "/dev/stderr" }' "$TMP/wrk.out"
}

lbconf >"$TMP/lb.json"
results=()
for W in 1 2; do
	"$LB" -q --workers "$W" --config "$TMP/lb.json" 2>"$TMP/lb.err" &
	LBPID=$!
	haconf "$W" >"$TMP/haproxy.cfg"
	haproxy -f "$TMP/haproxy.cfg" -db 2>"$TMP/haproxy.err" &
	HAPID=$!
	PIDS=($LBPID $HAPID)
	sleep 3 # listeners up, first health checks passed
	kill -0 $HAPID 2>/dev/null || { echo "bench-lb: haproxy did not start:"; cat "$TMP/haproxy.err"; exit 1; }
	kill -0 $LBPID 2>/dev/null || { echo "bench-lb: haneul-lb did not start:"; cat "$TMP/lb.err"; exit 1; }
	for mode in l7ka l7new l4; do
		case $mode in
		l7ka)  hu=http://127.0.0.1:$HL7/; xu=http://127.0.0.1:$XL7/; extra=() ;;
		l7new) hu=http://127.0.0.1:$HL7/; xu=http://127.0.0.1:$XL7/; extra=(-H "Connection: close") ;;
		l4)    hu=http://127.0.0.1:$HL4/; xu=http://127.0.0.1:$XL4/; extra=() ;;
		esac
		point "$hu" "${extra[@]}" >/dev/null 2>&1 # warm-up
		h=$(point "$hu" "${extra[@]}")
		x=$(point "$xu" "${extra[@]}")
		results+=("$mode $W $h $x")
	done
	kill $LBPID $HAPID 2>/dev/null
	wait $LBPID $HAPID 2>/dev/null
	PIDS=()
done

echo "haneul-lb vs HAProxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}'), nginx backend, wrk -t1 -c$CONNS -d${DUR}s, $(nproc) CPUs"
printf "%-8s %-7s %12s %10s %12s %10s %9s %9s\n" mode workers lb_req/s lb_p99ms ha_req/s ha_p99ms rps_ratio p99_ratio
for r in "${results[@]}"; do
	set -- $r
	awk -v m="$1" -v w="$2" -v hr="$3" -v hp="$4" -v xr="$5" -v xp="$6" 'BEGIN {
		printf "%-8s %-7s %12d %10.2f %12d %10.2f %9.2f %9.2f\n", m, w, hr, hp, xr, xp,
		       (xr > 0 ? hr / xr : 0), (xp > 0 ? hp / xp : 0) }'
done
