#!/bin/sh
# bench/io/nested.sh - the part of bench/io/run.sh that runs inside the
# nested harness's outer VM (busybox sh, real /dev/kvm).  Alternates
# haneul-vmm and QEMU -M microvm (virtio-blk-device on virtio-mmio, found
# through ACPI like haneul's) booting the same Debian kernel + initramfs with
# the same raw image file as /dev/vda; inside, a user-data script runs
# bench/io's iotool and powers off.  One line per measurement:
#   BENCH <vmm> <run> <op> mbps=.. iops=..
# Environment: RUNS (3), MIB (64: sequential bytes), SECS (4: each random
# test), VCPUS (2), MEM_MIB (256).
RUNS=${RUNS:-3} MIB=${MIB:-64} SECS=${SECS:-4} VCPUS=${VCPUS:-2} MEM_MIB=${MEM_MIB:-256}
L=$LINUX_DIR
T=/tmp/bio
mkdir -p $T
img=$T/vol.img
# A volume twice the sequential size, fully allocated once so both VMMs
# write over existing blocks (tmpfs: the outer VM has no disk).
dd if=/dev/zero of=$img bs=1M count=$((MIB * 2)) 2>/dev/null
cat >$T/ud.sh <<X
#!/bin/sh
iotool seqwrite /dev/vda $MIB 1024 && iotool seqread /dev/vda $MIB 1024 &&
iotool randread /dev/vda $SECS $MIB && iotool randwrite /dev/vda $SECS $MIB
echo "bench-io-done \$?"
poweroff -f
X
ud=$(base64 <$T/ud.sh | tr -d '\n')
CMDLINE="console=ttyS0 panic=-1 quiet haneul.agent=0 haneul.hotplug=0 haneul.user_data=$ud"

one() { # LABEL RUN -- CMD...
	label=$1 run=$2; shift 3
	out=$T/$label-$run.con
	timeout 300 "$@" </dev/null >"$out" 2>"$T/$label-$run.err"
	rc=$?
	tr -d '\r' <"$out" | sed -n "s/^iotool \([a-z]*\) .* mbps=\([0-9.]*\) iops=\([0-9]*\).*/BENCH $label $run \1 mbps=\2 iops=\3/p"
	grep -q '^bench-io-done 0' "$out" || { echo "--- $label run $run failed (exit $rc); console tail:"; tr -d '\r' <"$out" | tail -n 15 | sed 's/^/    con| /'; tail -n 5 "$T/$label-$run.err"; }
}

i=1
while [ "$i" -le "$RUNS" ]; do
	one haneul "$i" -- "$HANEUL_VMM" --kernel "$L/vmlinuz" --initrd "$L/initrd.img" \
		--cmdline "$CMDLINE" --vcpus "$VCPUS" --mem "${MEM_MIB}M" --drive file=$img,id=vol-0bench
	one qemu "$i" -- qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m "${MEM_MIB}M" \
		-smp "$VCPUS" -nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-kernel "$L/vmlinux" -initrd "$L/initrd.img" -append "$CMDLINE" \
		-drive id=vol0,file=$img,format=raw,if=none,cache=writeback,aio=threads \
		-device virtio-blk-device,drive=vol0,serial=vol-0bench
	i=$((i + 1))
done
