#!/usr/bin/env bash
# bench/api/run.sh - signed STS GetCallerIdentity against haneuld vs the same
# bytes answered by nginx from a static file of the same size (the floor).
# Same machine, same run, same load generator, same N keep-alive connections.
#   env: CONNS (default 16), SECS (default 10), THREADS (haneuld workers, default 2)
set -u
cd "$(dirname "$0")/../.."
O=${O:-build}
CONNS=${CONNS:-16} SECS=${SECS:-10} THREADS=${THREADS:-2}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench-api: nginx missing (apt-get install nginx-light)"; exit 1; }
T=$(mktemp -d /tmp/haneul-bench.XXXXXX)
HPID= NPID=
cleanup() {
	[ -n "$HPID" ] && kill "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null
	[ -n "$NPID" ] && kill "$NPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
"$O/haneuld" --data-dir "$T/data" --listen 127.0.0.1:0 --threads "$THREADS" 2>"$T/haneuld.log" &
HPID=$!
for i in $(seq 50); do [ -s "$T/data/endpoint" ] && break; sleep 0.1; done
EP=$(cat "$T/data/endpoint"); HPORT=${EP##*:}
/usr/bin/python3 bench/api/presign.py "$EP" "$T/data/root-credentials" "$T/req"
# The body haneuld answers becomes nginx's static file (same size).
mkdir -p "$T/www"; chmod 755 "$T" "$T/www"   # nginx workers are not root
/usr/bin/python3 - "$HPORT" "$T/req" "$T/www/resp.xml" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
buf = b""
while b"</GetCallerIdentityResponse>" not in buf:
    c = s.recv(65536)
    if not c: break
    buf += c
assert buf.startswith(b"HTTP/1.1 200"), buf[:200]
open(sys.argv[3], "wb").write(buf.partition(b"\r\n\r\n")[2])
PY
chmod 644 "$T/www/resp.xml"
NPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/nginx.conf" <<NG
worker_processes $THREADS;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_header_buffer_size 4k;
  server {
    listen 127.0.0.1:$NPORT;
    root $T/www;
    default_type text/xml;
    location / { try_files /resp.xml =404; }
  }
}
NG
"$NGINX" -c "$T/nginx.conf" -p "$T" &
NPID=$!
sleep 0.5
echo "bench-api: $CONNS keep-alive connections, ${SECS}s each, haneuld --threads $THREADS vs nginx worker_processes $THREADS"
echo "response body: $(wc -c <"$T/www/resp.xml") bytes (identical size for both)"
H=$("$O/bench/api-loadgen" 127.0.0.1 "$HPORT" "$CONNS" "$SECS" "$T/req")
N=$("$O/bench/api-loadgen" 127.0.0.1 "$NPORT" "$CONNS" "$SECS" "$T/req")
echo "haneuld (signed GetCallerIdentity): $H"
echo "nginx   (static file, same bytes):  $N"
hr=$(echo "$H" | sed -n 's/.*rps=\([0-9]*\).*/\1/p'); nr=$(echo "$N" | sed -n 's/.*rps=\([0-9]*\).*/\1/p')
hp=$(echo "$H" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p'); np=$(echo "$N" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p')
he=$(echo "$H" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
awk -v hr="$hr" -v nr="$nr" -v hp="$hp" -v np="$np" 'BEGIN {
	printf "ratio: throughput haneuld/nginx = %.2f, p99 haneuld/nginx = %.2f\n", hr / nr, hp / (np ? np : 1) }'
[ "${he:-1}" -eq 0 ] || { echo "bench-api: haneuld answered $he errors"; exit 1; }
