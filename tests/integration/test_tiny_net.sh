#!/usr/bin/env bash
# The tiny guest's virtio-net driver and ARP/IPv4/ICMP/TCP/HTTP stack, on
# the local /dev/kvm: under QEMU -M microvm (cases named *_under_qemu) and
# under haneul-vmm once it has --net (*_under_haneul).  Everything runs in a
# network namespace this script creates (taps, guest addresses, clients) and
# deletes on exit.  Cases: tests/integration/tiny_net.py.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CASES="tiny_net_up tiny_ping tiny_http_root_instance_id tiny_http_health tiny_http_404_400_405
 tiny_http_burn tiny_http_concurrent_connections tiny_tcp_closed_port_refused_rst
 tiny_tcp_rst_for_bad_segments tiny_tcp_synack_retransmitted
 tiny_tcp_data_retransmitted_and_fin_handshake tiny_net_counters tiny_http_sequential_requests
 tiny_poweroff_after_net"

skip_all() { # skip_all SUFFIX WHY
	local c
	for c in $CASES; do skip "${c}_under_$1" "$2"; done
}

why=""
if ! have_kvm; then why=$KVM_WHY
elif [ "$(id -u)" != 0 ]; then why="needs root (network namespace, tap devices)"
elif [ ! -c /dev/net/tun ]; then why="no /dev/net/tun"
elif ! command -v ip >/dev/null; then why="ip (iproute2) not installed"
elif [ ! -f "$TINY_ELF" ]; then why="$TINY_ELF not built"
elif [ ! -x "$PY" ]; then why="$PY missing"
fi
if [ -n "$why" ]; then skip_all qemu "$why"; skip_all haneul "$why"; exit 0; fi

NS=haneul-t-$$
cleanup() { ip netns del "$NS" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$NS" || { skip_all qemu "ip netns add failed"; skip_all haneul "ip netns add failed"; exit 0; }
ip -n "$NS" link set lo up
for i in 0 1; do
	ip -n "$NS" tuntap add dev tap$i mode tap &&
	ip -n "$NS" addr add 10.77.$i.1/24 dev tap$i &&
	ip -n "$NS" link set tap$i up || { fail tiny_net_setup "tap$i in $NS"; exit 0; }
done

if command -v qemu-system-x86_64 >/dev/null; then
	timeout -k 5 300 ip netns exec "$NS" "$PY" "$HERE/tiny_net.py" net qemu tap0 10.77.0.1 10.77.0.10
else
	skip_all qemu "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
fi

if [ ! -x "$VMM" ]; then
	skip_all haneul "$VMM not built"
elif ! "$VMM" --help 2>&1 | grep -q -- '--net'; then
	skip_all haneul "haneul-vmm has no --net option yet (virtio-net not wired in)"
else
	timeout -k 5 300 ip netns exec "$NS" "$PY" "$HERE/tiny_net.py" net haneul tap1 10.77.1.1 10.77.1.10
fi
exit 0
