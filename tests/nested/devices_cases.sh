#!/bin/sh
# tests/nested/devices_cases.sh - runs INSIDE the nested harness's outer VM
# after linux_cases.sh (same outer boot, see test_linux.sh): Debian's cloud
# kernel under haneul-vmm with volumes, a NIC in a VPC namespace, vsock and
# the agent (issue 4), and hibernate/resume of a busy Linux guest (issue 5).
# One PASS/FAIL/SKIP line per case; on a failure the inner console and the
# VMM's stderr (tails).
#
# The guest side of each VM is an EC2-style user-data script
# (haneul.user_data=BASE64, run by images/linux's haneul-rc) that prints
# progress lines on the console; the host side waits for them.
#
# VM A  root volume (rootfs.ext4 copy) + data volume, NIC, vsock, agent:
#   root_volume_boot       marker says root=vda (switch_root into the ext4 volume)
#   vsock_agent_ready      the agent's readiness line arrives on UDS_1024
#   http_via_tap           wget from the outer host namespace -> VPC -> tap
#                          -> guest agent: "/" has the instance id, /health ok
#   detach_guest_sees_it   control detach-drive -> the guest's hotplug helper
#                          unbinds it: /sys/block/vdb gone, the VMM frees it
#   agent_vsock_shutdown   {"cmd":"shutdown"} to the agent over vsock -> clean
#                          poweroff, VMM exit 0
# VM B  no disks at boot:
#   hot_attach_seen        attach-drive -> /dev/vda appears in the guest with
#                          /dev/disk/by-id/virtio-vol-0data and serial = id
#   reattach_same_bytes    the file VM A wrote reads back with the same MD5
# VM C  flush_then_kill    2 MiB written + fsync, host kill -9 -> on the file
# VM H  hibernate_resume_linux   counter + sync to a volume, records with
#                          O_DSYNC and heavy direct writes on another volume;
#                          hibernate, resume in a new process: same boot id
#                          and PID, uptime and counter continue, the counter
#                          file holds every line, no acknowledged write lost
#       hibernate_heavy_writes_acked  (the records part of the same VM)
VMM=${HANEUL_VMM:-/haneul/bin/haneul-vmm}
L=${LINUX_DIR:-/haneul/images/linux}
NC=/haneul/bin/nestctl
IOT=/haneul/bin/iotool
T=/tmp/dev
mkdir -p $T
CON="console=ttyS0 panic=-1 quiet"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

# note WHAT: a progress line with the outer VM's uptime, so that a run cut
# short by the harness's timeout shows which step it was in.
note() { echo "    devices: $1 (outer uptime $(cut -d' ' -f1 /proc/uptime) s)"; }

evidence() { # NAME VM
	echo "--- $1: inner console of VM $2 (last 30 lines):"
	tr -d '\r' <"$T/$2.con" 2>/dev/null | tail -n 30 | sed 's/^/    con| /'
	echo "--- $1: haneul-vmm stderr of VM $2 (last 15 lines):"
	tail -n 15 "$T/$2.err" 2>/dev/null | sed 's/^/    err| /'
}

# ud FILE: the base64 of a user-data script, for haneul.user_data=
ud() { base64 <"$1" | tr -d '\n'; }

# start VM ARGS...: haneul-vmm in the background; console -> VM.con
start() {
	vm=$1; shift
	"$VMM" "$@" </dev/null >"$T/$vm.con" 2>"$T/$vm.err" &
	eval "pid_$vm=$!"
}
vmpid() { eval "echo \$pid_$1"; }

# waitcon VM REGEX SECS: wait until the console has a line matching REGEX
# (grep -E); prints the last such line; 1 on timeout or when the VMM exited.
# Only complete lines count: a line the guest is still printing could match
# a prefix of REGEX.
lines() { head -n "$(wc -l <"$T/$1.con")" "$T/$1.con" | tr -d '\r'; }
waitcon() {
	n=0
	while [ "$n" -lt $(($3 * 5)) ]; do
		l=$(lines "$1" | grep -E "$2" | tail -n 1)
		[ -n "$l" ] && { echo "$l"; return 0; }
		kill -0 "$(vmpid "$1")" 2>/dev/null || {
			l=$(lines "$1" | grep -E "$2" | tail -n 1)
			[ -n "$l" ] && { echo "$l"; return 0; }
			return 1
		}
		sleep 0.2; n=$((n + 1))
	done
	return 1
}

# waitexit VM SECS: wait for the VMM to exit (kill -9 at SECS); sets rc.
waitexit() {
	p=$(vmpid "$1") n=0
	while kill -0 "$p" 2>/dev/null && [ "$n" -lt $(($2 * 5)) ]; do sleep 0.2; n=$((n + 1)); done
	if kill -0 "$p" 2>/dev/null; then kill -9 "$p"; wait "$p" 2>/dev/null; rc=124
	else wait "$p"; rc=$?; fi
}

ctl() { $NC ctl "$T/$1.ctl" "$2" ${3:-30}; }

for t in "$NC" "$IOT" /haneul/bin/haneul-net; do
	if [ ! -x "$t" ]; then
		for c in root_volume_boot vsock_agent_ready http_via_tap detach_guest_sees_it agent_vsock_shutdown \
			 hot_attach_seen reattach_same_bytes flush_then_kill hibernate_resume_linux hibernate_heavy_writes_acked; do
			skip $c "$t missing in the outer VM"
		done
		exit 0
	fi
done

# ---------------------------------------------------------------- VM A
VPC=hnvpc0 TAP=hntapa GIP=10.77.0.4 ID=i-0aaa1111
if ! out=$(haneul-net vpc-create $VPC 10.77.0.0/24 2>&1) || ! haneul-net tap-create $VPC $TAP >/dev/null 2>&1; then
	echo "--- haneul-net: $out"
	net=0
else
	net=1
fi
cp "$L/rootfs.ext4" $T/a-root.img
truncate -s 32M $T/data.img
cat >$T/a.sh <<'EOF'
#!/bin/sh
mke2fs -q /dev/vdb >/dev/null && mount -t ext4 /dev/vdb /mnt &&
dd if=/dev/urandom of=/mnt/f bs=4k count=64 2>/dev/null && m=$(md5sum </mnt/f) &&
umount /mnt && echo "A-written ${m%% *}" || echo "A-write-failed"
while [ -e /sys/block/vdb ]; do sleep 0.3; done
echo "A-vdb-gone $(ls /sys/block | tr '\n' ' ')"
EOF
netarg="" ipc=""
[ $net = 1 ] && { netarg="--net tap=$TAP,netns=$VPC,mac=02:00:00:00:0a:01"; ipc="ip=$GIP::10.77.0.1:255.255.255.0:vm-a:eth0:off"; }
note "VM A: root volume, data volume, NIC, vsock"
$NC listen $T/a.vsock_1024 120 >$T/a.ready 2>&1 &
lpid=$!
start a --kernel "$L/vmlinuz" --initrd "$L/initrd.img" --vcpus 2 --mem 256M --control $T/a.ctl \
	--drive file=$T/a-root.img,id=vol-0root --drive file=$T/data.img,id=vol-0data $netarg \
	--vsock cid=3,uds=$T/a.vsock \
	--cmdline "$CON root=/dev/vda $ipc haneul.instance_id=$ID haneul.user_data=$(ud $T/a.sh)"

if m=$(waitcon a 'haneul-ready linux' 120) && echo "$m" | grep -q 'root=vda'; then
	pass root_volume_boot; echo "    root_volume_boot: $m"
else
	fail root_volume_boot "marker: '${m:-none}'"; evidence root_volume_boot a
fi
wl=$(waitcon a 'A-written|A-write-failed' 60)
amd5=$(echo "$wl" | sed -n 's/^A-written \([0-9a-f]*\)$/\1/p')

n=0; while kill -0 $lpid 2>/dev/null && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
if grep -q "\"instance_id\":\"$ID\"" $T/a.ready; then
	pass vsock_agent_ready; echo "    vsock_agent_ready: $(head -c 300 $T/a.ready)"
else
	fail vsock_agent_ready "UDS_1024 got: $(head -c 300 $T/a.ready)"; evidence vsock_agent_ready a
fi

if [ $net = 0 ]; then
	fail http_via_tap "no VPC/tap (haneul-net failed)"
else
	body=$($NC http $GIP 80 / 2>&1); health=$($NC http $GIP 80 /health 2>&1); hrc=$?
	if echo "$body" | grep -q "$ID" && [ "$hrc" = 0 ]; then
		pass http_via_tap; echo "    http_via_tap: / -> $(echo "$body" | tail -n +3 | head -c 120 | tr '\n' ' ') /health -> $(echo "$health" | head -c 80 | tr '\n' ' ')"
	else
		fail http_via_tap "GET / -> '$(echo "$body" | head -c 200)', /health -> '$health'"
		ip route; haneul-net info $VPC | sed 's/^/    net| /'
		evidence http_via_tap a
	fi
fi

# Detach the data volume: the VMM asks (GED), the guest lets go.
if [ -z "$amd5" ]; then
	fail detach_guest_sees_it "the guest did not write its file: '$wl'"; evidence detach_guest_sees_it a
else
	r=$(ctl a '{"cmd":"detach-drive","id":"vol-0data"}')
	gone=$(waitcon a 'A-vdb-gone' 30)
	n=0
	while ctl a '{"cmd":"status"}' 5 | grep -q '"id":"vol-0data"' && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
	st=$(ctl a '{"cmd":"status"}')
	if [ -z "$gone" ]; then
		fail detach_guest_sees_it "reply $r; the guest still has /sys/block/vdb"; evidence detach_guest_sees_it a
	elif echo "$st" | grep -q '"id":"vol-0data"'; then
		fail detach_guest_sees_it "the guest let go but the VMM still lists vol-0data: $st"; evidence detach_guest_sees_it a
	else
		pass detach_guest_sees_it
		echo "    detach_guest_sees_it: reply $r"
		echo "    detach_guest_sees_it: guest: $gone; $(tr -d '\r' <$T/a.con | grep 'haneul-hotplug' | tail -n 1)"
	fi
fi

r=$($NC vsock $T/a.vsock 1025 '{"cmd":"shutdown"}' 2>&1)
waitexit a 60
if [ "$rc" = 0 ] && grep -q 'guest powered off' $T/a.err && echo "$r" | grep -q '"ok":true'; then
	pass agent_vsock_shutdown; echo "    agent_vsock_shutdown: agent replied $r"
else
	fail agent_vsock_shutdown "agent reply '$r', VMM exit $rc"; evidence agent_vsock_shutdown a
fi
[ $net = 1 ] && haneul-net tap-delete $VPC $TAP >/dev/null 2>&1

# ---------------------------------------------------------------- VM B
cat >$T/b.sh <<'EOF'
#!/bin/sh
l=/dev/disk/by-id/virtio-vol-0data
while [ ! -e $l ]; do sleep 0.3; done
d=$(readlink -f $l); b=${d#/dev/}
echo "B-seen $b link=$(readlink $l) serial=$(cat /sys/block/$b/serial)"
mount -t ext4 -o ro $d /mnt && m=$(md5sum </mnt/f) && echo "B-read ${m%% *}" || echo "B-read-failed"
umount /mnt
EOF
note "VM B: hot attach"
start b --kernel "$L/vmlinuz" --initrd "$L/initrd.img" --vcpus 1 --mem 256M --control $T/b.ctl \
	--cmdline "$CON haneul.user_data=$(ud $T/b.sh)"
if waitcon b 'haneul-ready linux' 120 >/dev/null; then
	r=$(ctl b "{\"cmd\":\"attach-drive\",\"file\":\"$T/data.img\",\"id\":\"vol-0data\"}")
	seen=$(waitcon b '^B-seen' 30)
	if echo "$seen" | grep -q 'B-seen vd[a-z] link=../../vd[a-z] serial=vol-0data'; then
		pass hot_attach_seen; echo "    hot_attach_seen: reply $r; guest: $seen"
	else
		fail hot_attach_seen "attach reply $r; guest: '$seen'"; evidence hot_attach_seen b
	fi
	rd=$(waitcon b '^B-read' 30)
	if [ -n "$amd5" ] && [ "$rd" = "B-read $amd5" ]; then
		pass reattach_same_bytes; echo "    reattach_same_bytes: VM A wrote $amd5, VM B read ${rd#B-read }"
	else
		fail reattach_same_bytes "VM A wrote '${amd5:-nothing}', VM B: '$rd'"; evidence reattach_same_bytes b
	fi
else
	fail hot_attach_seen "VM B did not boot"; fail reattach_same_bytes "VM B did not boot"; evidence hot_attach_seen b
fi
ctl b '{"cmd":"shutdown"}' >/dev/null
waitexit b 60

# ---------------------------------------------------------------- VM C
truncate -s 16M $T/c.img
cat >$T/c.sh <<'EOF'
#!/bin/sh
dd if=/dev/urandom of=/tmp/p bs=64k count=32 2>/dev/null; m=$(md5sum </tmp/p)
dd if=/tmp/p of=/dev/vda bs=64k conv=fsync 2>/dev/null && echo "C-flushed ${m%% *}"
dd if=/dev/urandom of=/dev/vda bs=64k seek=64 count=100 2>/dev/null
EOF
note "VM C: flush then kill -9"
start c --kernel "$L/vmlinuz" --initrd "$L/initrd.img" --vcpus 1 --mem 256M \
	--drive file=$T/c.img,id=vol-0c --cmdline "$CON haneul.agent=0 haneul.user_data=$(ud $T/c.sh)"
fl=$(waitcon c '^C-flushed' 120)
kill -9 "$(vmpid c)" 2>/dev/null; waitexit c 10
cmd5=$(dd if=$T/c.img bs=64k count=32 2>/dev/null | md5sum); cmd5=${cmd5%% *}
if [ -n "$fl" ] && [ "$fl" = "C-flushed $cmd5" ]; then
	pass flush_then_kill; echo "    flush_then_kill: guest flushed ${fl#C-flushed }, after kill -9 (VMM exit $rc) the file has $cmd5"
else
	fail flush_then_kill "guest: '${fl:-no flush line}', file: $cmd5"; evidence flush_then_kill c
fi

# ---------------------------------------------------------------- VM H
cp "$L/rootfs.ext4" $T/h-root.img
truncate -s 32M $T/h-count.img
truncate -s 128M $T/h-rec.img
mkdir -p $T/hib
cat >$T/h.sh <<'EOF'
#!/bin/sh
mke2fs -q /dev/vdb >/dev/null; mount -t ext4 /dev/vdb /mnt || echo H-mount-failed
b=$(cat /proc/sys/kernel/random/boot_id)
(iotool records /dev/vdc 0 0 20 >/dev/console) &
(while :; do dd if=/dev/zero of=/dev/vdc bs=1M seek=64 count=32 oflag=direct 2>/dev/null; done) &
i=0
while :; do
	i=$((i + 1)); echo "line $i" >>/mnt/count; sync
	read u x </proc/uptime; echo "H-tick $i pid=$$ boot=$b up=$u" >/dev/console
	sleep 0.5
done
EOF
note "VM H: counter, records and heavy writes"
start h --kernel "$L/vmlinuz" --initrd "$L/initrd.img" --vcpus 2 --mem 256M --control $T/h.ctl \
	--drive file=$T/h-root.img,id=vol-0hroot --drive file=$T/h-count.img,id=vol-0hcnt \
	--drive file=$T/h-rec.img,id=vol-0hrec \
	--cmdline "$CON root=/dev/vda haneul.user_data=$(ud $T/h.sh)"
t1=$(waitcon h '^H-tick 6 ' 180)
waitcon h '^ack 30$' 60 >/dev/null
note "VM H: hibernate (${t1:-no tick 6})"
hr=$(ctl h "{\"cmd\":\"hibernate\",\"dir\":\"$T/hib\"}" 150)
waitexit h 120
hrc=$rc
before=$(lines h | grep -E '^H-tick [0-9]+ ' | tail -n 1)
acks1=$(lines h | grep -E '^ack [0-9]+$' | tail -n 1); acks1=${acks1#ack }
note "VM H: VMM exit $hrc; hibernate reply $hr"
v1=$(timeout 120 $IOT verify $T/h-rec.img $((${acks1:-0} + 1)))
v1rc=$?
mv $T/h.con $T/h1.con; mv $T/h.err $T/h1.err
if [ -z "$t1" ] || [ "$hrc" != 4 ]; then
	fail hibernate_resume_linux "before hibernate: '$t1'; hibernate reply $hr, VMM exit $hrc (expected 4)"
	cp $T/h1.con $T/h.con; cp $T/h1.err $T/h.err; evidence hibernate_resume_linux h
	fail hibernate_heavy_writes_acked "no hibernate"
else
	note "VM H: resume"
	start h --resume $T/hib --control $T/h.ctl
	b0=$(echo "$before" | sed -n 's/^H-tick \([0-9]*\) .*/\1/p')
	after=$(waitcon h "^H-tick $((b0 + 2)) " 60)
	first=$(lines h | grep -E '^H-tick [0-9]+ ' | head -n 1)
	# Every tick printed before the shutdown request had its line written
	# and synced (ticks printed during the shutdown may race the unmount).
	last=$(lines h | grep -E '^H-tick [0-9]+ ' | tail -n 1)
	ctl h '{"cmd":"shutdown"}' >/dev/null
	waitexit h 60
	hrc2=$rc
	lastn=$(echo "$last" | sed -n 's/^H-tick \([0-9]*\) .*/\1/p')
	f() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
	note "VM H: exit $hrc2 after resume; checking the volumes"
	cnt=$(timeout 60 /haneul/bin/debugfs -R 'cat /count' $T/h-count.img 2>/dev/null)
	want=$(i=1; while [ $i -le "${lastn:-0}" ]; do echo "line $i"; i=$((i + 1)); done)
	got=$(echo "$cnt" | head -n "${lastn:-0}")
	fn=$(echo "$first" | sed -n 's/^H-tick \([0-9]*\) .*/\1/p')
	why=""
	[ -n "$after" ] || why="no tick $((b0 + 2)) after resume"
	[ -z "$why" ] && [ "$fn" -gt "$b0" ] && [ "$fn" -le $((b0 + 2)) ] || why="${why:-first tick after resume is $fn, last before was $b0}"
	[ -z "$why" ] && [ "$(f "$first" pid)" != "$(f "$before" pid)" ] && why="PID changed: $(f "$before" pid) -> $(f "$first" pid)"
	[ -z "$why" ] && [ "$(f "$first" boot)" != "$(f "$before" boot)" ] && why="boot id changed"
	[ -z "$why" ] && ! awk -v a="$(f "$before" up)" -v b="$(f "$first" up)" 'BEGIN { exit !(b > a) }' && why="uptime went from $(f "$before" up) to $(f "$first" up)"
	[ -z "$why" ] && [ "$got" != "$want" ] && why="the count file does not hold lines 1..$lastn: $(echo "$cnt" | head -c 200 | tr '\n' ' ') ... ($(echo "$cnt" | wc -l) lines)"
	if [ -z "$why" ]; then
		pass hibernate_resume_linux
		echo "    hibernate_resume_linux: before: $before"
		echo "    hibernate_resume_linux: after:  $first"
		echo "    hibernate_resume_linux: last tick $lastn, count file lines $(echo "$cnt" | wc -l), exit $hrc then $hrc2; $(grep -h 'hibernated\|resum' $T/h1.err $T/h.err | head -n 2 | tr '\n' ' ')"
	else
		fail hibernate_resume_linux "$why"; evidence hibernate_resume_linux h
	fi
	acks2=$(lines h | grep -E '^ack [0-9]+$' | tail -n 1); acks2=${acks2#ack }
	v2=$(timeout 120 $IOT verify $T/h-rec.img $((${acks2:-0} + 1)))
	v2rc=$?
	if [ -n "$acks1" ] && [ "$v1rc" = 0 ] && [ -n "$acks2" ] && [ "$v2rc" = 0 ] && [ "$acks2" -gt "$acks1" ]; then
		pass hibernate_heavy_writes_acked
		echo "    hibernate_heavy_writes_acked: acked 0..$acks1 before hibernate: $v1; 0..$acks2 after resume: $v2"
	else
		fail hibernate_heavy_writes_acked "acked 0..$acks1 before: $v1 (rc $v1rc); 0..$acks2 at the end: $v2 (rc $v2rc)"
	fi
fi
[ $net = 1 ] && haneul-net vpc-delete $VPC >/dev/null 2>&1
exit 0
