#!/usr/bin/env bash
# Instance networking (common/netns.c through build/haneul-net): a VPC
# namespace with its bridge, host link and route; taps; a process inside;
# haneul-vmm with --net tap=T,netns=VPC reached from the host through the
# VPC only; the vsock host socket; and nothing left behind afterwards.
# Needs root and /dev/net/tun (SKIPs loudly otherwise); VM cases also need
# /dev/kvm and the tiny guest.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
NET=$BUILD/haneul-net
CASES="netns_vpc_create netns_vpc_listed netns_vpc_duplicate_refused netns_bad_arguments
 netns_gateway_only_inside netns_tap_create netns_process_inside_reachable_from_host
 netns_tap_delete netns_vpc_delete_leaves_nothing"
VM_CASES="vmm_net_missing_namespace_is_an_error vmm_net_tap_in_vpc_namespace
 vmm_net_host_reaches_guest_through_vpc vmm_net_status_counters vmm_net_guest_powers_off
 vmm_vsock_listens vmm_vsock_socket_in_use_refused vmm_vsock_in_status
 vmm_vsock_socket_removed_on_exit vmm_vsock_bad_path_is_an_error"

why=""
if [ "$(id -u)" != 0 ]; then why="needs root (network namespaces, taps, mounts under /run)"
elif [ ! -c /dev/net/tun ]; then why="no /dev/net/tun"
elif [ ! -x "$NET" ]; then why="$NET not built"
elif ! command -v ip >/dev/null; then why="ip (iproute2) not installed (used to verify)"
elif [ ! -x "$PY" ]; then why="$PY missing"
fi
if [ -n "$why" ]; then
	for c in $CASES $VM_CASES; do skip "$c" "$why"; done
	exit 0
fi

VPC=haneul-vpc-t$$
N=$((200 + $$ % 50))
SUBNET=10.$N.$(($$ % 250)).0/24
PFX=${SUBNET%.0/24}
GW=$PFX.1
TAP=hnt$$
TMP=$(tmpdir_new)
SRV_PID=
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	"$NET" vpc-delete "$VPC" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

# -- create
if out=$("$NET" vpc-create "$VPC" "$SUBNET" 2>&1) && grep -q "^gateway=$GW$" <<<"$out" &&
	[ -e "/run/netns/$VPC" ]; then
	pass netns_vpc_create
else
	fail netns_vpc_create "$out"
	for c in $CASES $VM_CASES; do [ "$c" = netns_vpc_create ] || skip "$c" "VPC creation failed"; done
	exit 0
fi
HOST_LINK=$(sed -n 's/^host_link=//p' <<<"$out")
NS_ADDR=$(sed -n 's/^ns_addr=//p' <<<"$out")

if "$NET" list | grep -q "^$VPC $PFX.0/24 taps=0 host_link=$HOST_LINK$"; then
	pass netns_vpc_listed
else
	fail netns_vpc_listed "$("$NET" list 2>&1)"
fi

out=$("$NET" vpc-create "$VPC" 10.99.0.0/24 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "already exists" <<<"$out"; then pass netns_vpc_duplicate_refused
else fail netns_vpc_duplicate_refused "rc $rc: $out"; fi

ok=1; msg=""
for bad in "127.5.0.0/16" "10.0.0.0/30" "10.1.2.3" "300.1.1.0/24"; do
	out=$("$NET" vpc-create "haneul-bad-$$" "$bad" 2>&1); rc=$?
	if [ $rc -ne 1 ] || [ -e "/run/netns/haneul-bad-$$" ]; then ok=0; msg="$bad: rc $rc $out"; fi
done
out=$("$NET" vpc-create "../etc" 10.9.0.0/24 2>&1); [ $? -eq 1 ] || { ok=0; msg="../etc accepted"; }
"$NET" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || { ok=0; msg="usage error not 2"; }
out=$("$NET" tap-create "haneul-no-such-$$" t0 2>&1); [ $? -eq 1 ] || { ok=0; msg="tap in missing vpc"; }
[ $ok = 1 ] && pass netns_bad_arguments || fail netns_bad_arguments "$msg"

# The subnet lives inside: the host has a route through the link, no address in it.
if ! ip -br addr | grep -q " $GW/" && ip netns exec "$VPC" ip -br addr show hnbr0 | grep -q " $GW/24" &&
	ip route show "$PFX.0/24" | grep -q "via $NS_ADDR dev $HOST_LINK"; then
	pass netns_gateway_only_inside
else
	fail netns_gateway_only_inside "$(ip route; ip netns exec "$VPC" ip -br addr)"
fi

if "$NET" tap-create "$VPC" "$TAP" && "$NET" info "$VPC" | grep -q "^taps=$TAP$" &&
	ip netns exec "$VPC" ip -d link show "$TAP" | grep -q "master hnbr0" &&
	! ip link show "$TAP" >/dev/null 2>&1; then
	pass netns_tap_create
else
	fail netns_tap_create "$("$NET" info "$VPC" 2>&1)"
fi

# A process inside the namespace (haneul-net exec) serves on the gateway
# address; the host reaches it through the link and route.
"$NET" exec "$VPC" "$PY" -c '
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 18080)); s.listen(1); s.settimeout(20)
c,a=s.accept(); c.sendall(("from-inside " + a[0] + "\n").encode()); c.close()' "$GW" &
SRV_PID=$!
got=""
for _ in $(seq 1 40); do
	got=$("$PY" -c '
import socket,sys
c=socket.create_connection((sys.argv[1], 18080), timeout=2); print(c.recv(100).decode().strip())' "$GW" 2>/dev/null) && break
	sleep 0.1
done
wait "$SRV_PID" 2>/dev/null; SRV_PID=
HOST_ADDR=$(sed -n 's/^host_addr=//p' < <("$NET" info "$VPC"))
if [ "$got" = "from-inside $HOST_ADDR" ]; then pass netns_process_inside_reachable_from_host
else fail netns_process_inside_reachable_from_host "got '$got', want 'from-inside $HOST_ADDR'"; fi

# -- VMs on the VPC (the tiny guest serves HTTP on its address)
if ! have_kvm; then for c in $VM_CASES; do skip "$c" "$KVM_WHY"; done
elif [ ! -x "$VMM" ] || [ ! -f "$TINY_ELF" ]; then for c in $VM_CASES; do skip "$c" "VMM or tiny guest not built"; done
else
	timeout -k 5 240 "$PY" "$HERE/netns_vmm.py" "$VPC" "$TAP" "$GW" "$PFX.10" "$TMP"
fi

# -- delete
out=$("$NET" tap-delete "$VPC" "$TAP" 2>&1); rc=$?
out2=$("$NET" tap-delete "$VPC" "$TAP" 2>&1); rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 1 ] && grep -q "^taps=$" < <("$NET" info "$VPC"); then pass netns_tap_delete
else fail netns_tap_delete "rc $rc/$rc2: $out / $out2"; fi

"$NET" tap-create "$VPC" "${TAP}b" >/dev/null 2>&1 # deleted with the VPC
out=$("$NET" vpc-delete "$VPC" 2>&1); rc=$?
left=""
[ -e "/run/netns/$VPC" ] && left+=" /run/netns/$VPC"
ip link show "$HOST_LINK" >/dev/null 2>&1 && left+=" $HOST_LINK"
ip route show | grep -q "^$PFX.0/24" && left+=" route $PFX.0/24"
"$NET" list | grep -q "^$VPC " && left+=" (listed)"
ip netns list | grep -q "^$VPC\b" && left+=" (ip netns list)"
out2=$("$NET" vpc-delete "$VPC" 2>&1); rc2=$?
if [ $rc -eq 0 ] && [ -z "$left" ] && [ $rc2 -eq 1 ]; then pass netns_vpc_delete_leaves_nothing
else fail netns_vpc_delete_leaves_nothing "rc $rc/$rc2 $out $out2; left:$left"; fi
exit 0
