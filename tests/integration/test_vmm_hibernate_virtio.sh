#!/usr/bin/env bash
# Hibernate/resume with virtio devices in use (issue 5): the tiny guest with
# a drive and a NIC on the local /dev/kvm.  The VPC namespace and its tap are
# created here with build/haneul-net and deleted on exit (all traffic stays
# in that namespace).  Cases: hibernate_virtio_cases.py.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
NET=$BUILD/haneul-net
CASES="hibernate_virtio_blk_and_net_round_trip hibernate_virtio_no_acknowledged_write_lost
 hibernate_virtio_missing_or_resized_drive_refused hibernate_virtio_bad_device_sections_refused
 hibernate_virtio_device_options_with_resume_refused hibernate_virtio_hot_attached_drives_keep_their_slots"
vmm_prereqs hibernate_virtio $CASES || exit 0
why=""
if [ "$(id -u)" != 0 ]; then why="needs root (network namespace, tap)"
elif [ ! -c /dev/net/tun ]; then why="no /dev/net/tun"
elif [ ! -x "$NET" ]; then why="$NET not built"
fi
if [ -n "$why" ]; then
	for c in $CASES; do skip "$c" "$why"; done
	exit 0
fi

VPC=haneul-hibv-$$
N=$((150 + $$ % 40))
PFX=10.$N.$(($$ % 250))
TAP=hbv$$
cleanup() { "$NET" vpc-delete "$VPC" >/dev/null 2>&1; }
trap cleanup EXIT
if ! out=$("$NET" vpc-create "$VPC" "$PFX.0/24" 2>&1) || ! "$NET" tap-create "$VPC" "$TAP" 2>&1; then
	for c in $CASES; do fail "$c" "VPC/tap setup failed: $out"; done
	exit 0
fi
timeout -k 5 900 "$PY" "$HERE/hibernate_virtio_cases.py" "$VPC" "$TAP" "$PFX.10" "$PFX.1" "$@"
exit 0
