#!/usr/bin/env bash
# virtio on the local /dev/kvm (docs/virtio.md): drives on the command line
# (several, read-only), attach-drive / detach-drive successes and refusals
# (bad file, duplicate id, locked by another VMM, unknown id, root drive
# without force), lock release on detach, and a hostile guest
# (vmm_guests/virtio_hostile.S) whose garbage chains get NEEDS_RESET while
# the VMM stays up and the device still serves a good request after reset.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
cases="starts_with_drives status_lists_drives readonly_drive_flagged second_vmm_refused_locked_volume
attach_bad_file_refused attach_duplicate_id_refused attach_locked_by_other_vmm_refused attach_success
detach_unknown_id_refused detach_root_needs_force detach_success_releases_lock
hostile_guest_needs_reset_vmm_survives hostile_guest_device_works_after_reset"
vmm_prereqs virtio $cases || exit 0
if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
	for c in $cases; do skip "$c" "binutils (as, ld) missing"; done; exit 0
fi
T=$(tmpdir_new)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

ctl() { # SOCK JSON : one reply line
	"$PY" - "$@" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); f = s.makefile("rwb")
f.write(sys.argv[2].encode() + b"\n"); f.flush(); print(f.readline().decode().strip())
PYEOF
}
jget() { "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
wait_sock() { for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }

for f in root data extra other; do truncate -s 8M "$T/$f.img"; done

timeout 120 "$VMM" --kernel "$TINY_ELF" --console none --control "$T/a.sock" \
	--drive "file=$T/root.img,id=vol-root" --drive "file=$T/data.img,id=vol-data,readonly" \
	</dev/null 2>"$T/a.err" & pids+=($!)
if wait_sock "$T/a.sock"; then pass starts_with_drives; else fail starts_with_drives "no control socket: $(tail -2 "$T/a.err")"; fi

st=$(ctl "$T/a.sock" '{"cmd":"status"}')
ids=$(jget "$st" '",".join(x["id"] for x in d["devices"])')
[ "$ids" = "vol-root,vol-data,rng0" ] && pass status_lists_drives || fail status_lists_drives "devices: $ids"
ro=$(jget "$st" '[x.get("readonly") for x in d["devices"] if x["id"]=="vol-data"][0]')
[ "$ro" = "True" ] && pass readonly_drive_flagged || fail readonly_drive_flagged "readonly=$ro"

# A second VMM on the same root volume: refused at start, with a clear error.
timeout 20 "$VMM" --kernel "$TINY_ELF" --console none --drive "file=$T/root.img,id=vol-x" </dev/null 2>"$T/b.err"
rc=$?
if [ $rc = 1 ] && grep -q "in use by another VMM" "$T/b.err"; then pass second_vmm_refused_locked_volume
else fail second_vmm_refused_locked_volume "rc=$rc: $(tail -1 "$T/b.err")"; fi

r=$(ctl "$T/a.sock" "{\"cmd\":\"attach-drive\",\"file\":\"$T/missing.img\",\"id\":\"vol-m\"}")
case "$r" in *'"ok":false'*cannot\ open*) pass attach_bad_file_refused ;; *) fail attach_bad_file_refused "$r" ;; esac
r=$(ctl "$T/a.sock" "{\"cmd\":\"attach-drive\",\"file\":\"$T/extra.img\",\"id\":\"vol-data\"}")
case "$r" in *'"ok":false'*already\ attached*) pass attach_duplicate_id_refused ;; *) fail attach_duplicate_id_refused "$r" ;; esac

# other.img held by a second VMM process.
timeout 120 "$VMM" --kernel "$TINY_ELF" --console none --control "$T/c.sock" \
	--drive "file=$T/other.img,id=vol-other" </dev/null 2>"$T/c.err" & pids+=($!)
wait_sock "$T/c.sock"
r=$(ctl "$T/a.sock" "{\"cmd\":\"attach-drive\",\"file\":\"$T/other.img\",\"id\":\"vol-o\"}")
case "$r" in *'"ok":false'*in\ use\ by\ another\ VMM*) pass attach_locked_by_other_vmm_refused ;;
	*) fail attach_locked_by_other_vmm_refused "$r" ;; esac

r=$(ctl "$T/a.sock" "{\"cmd\":\"attach-drive\",\"file\":\"$T/extra.img\",\"id\":\"vol-extra\",\"readonly\":false}")
st=$(ctl "$T/a.sock" '{"cmd":"status"}')
state=$(jget "$st" '[x["state"] for x in d["devices"] if x["id"]=="vol-extra"]')
case "$r" in *'"ok":true'*) [ "$state" = "['attached']" ] && pass attach_success || fail attach_success "status: $state" ;;
	*) fail attach_success "$r" ;; esac

r=$(ctl "$T/a.sock" '{"cmd":"detach-drive","id":"vol-nope"}')
case "$r" in *'"ok":false'*no\ device*) pass detach_unknown_id_refused ;; *) fail detach_unknown_id_refused "$r" ;; esac
r=$(ctl "$T/a.sock" '{"cmd":"detach-drive","id":"vol-root"}')
case "$r" in *'"ok":false'*force*) pass detach_root_needs_force ;; *) fail detach_root_needs_force "$r" ;; esac

# vol-extra: no guest driver started it, so it goes at once and its lock with it.
r=$(ctl "$T/a.sock" '{"cmd":"detach-drive","id":"vol-extra"}')
st=$(ctl "$T/a.sock" '{"cmd":"status"}')
left=$(jget "$st" '[x["id"] for x in d["devices"] if x["id"]=="vol-extra"]')
if [[ "$r" == *'"state":"detached"'* ]] && [ "$left" = "[]" ] && flock -n -x "$T/extra.img" true; then
	pass detach_success_releases_lock
else fail detach_success_releases_lock "reply=$r left=$left"; fi

# Hostile guest.
as --64 "$(dirname "$0")/vmm_guests/virtio_hostile.S" -o "$T/h.o" &&
	ld -m elf_x86_64 -Ttext=0x200000 -e _start --build-id=none -z noexecstack "$T/h.o" -o "$T/h.elf"
timeout 60 "$VMM" --kernel "$T/h.elf" --console-log "$T/h.log" --console none \
	--drive "file=$T/extra.img,id=vol-hostile" </dev/null 2>"$T/h.err"
rc=$?
if [ $rc = 0 ] && grep -q '^NNN' "$T/h.log" && grep -q "needs reset" "$T/h.err"; then
	pass hostile_guest_needs_reset_vmm_survives
else fail hostile_guest_needs_reset_vmm_survives "rc=$rc console='$(head -c 80 "$T/h.log")'"; fi
grep -q 'vol-hostile S0' "$T/h.log" && pass hostile_guest_device_works_after_reset ||
	fail hostile_guest_device_works_after_reset "console='$(head -c 80 "$T/h.log")'"
exit 0
