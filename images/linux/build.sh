#!/usr/bin/env bash
# images/linux/build.sh - haneul's Linux test guest from Debian packages.
#
#   images/linux/build.sh [OUTDIR]        (default: ${O:-build}/images/linux)
#
# Downloads (once, into ${HANEUL_CACHE:-$HOME/.cache/haneul}/debs, outside
# the repository) the concrete linux-image-6.1.0-*-cloud-amd64 package that
# linux-image-cloud-amd64 depends on, and busybox-static; takes the kernel as
# shipped and writes into OUTDIR:
#   vmlinuz      the bzImage from the package, unchanged
#   vmlinux      the ELF inside it (LZ4 legacy stream), for PVH / ELF boot
#   initrd.img   gzip'd newc cpio: busybox, /init, inittab, haneul-rc, the
#                modules of modules.list, haneul-agent, haneul-hotplug;
#                prints "haneul-ready linux uptime=S nproc=N root=DEV"
#   rootfs.ext4  an ext4 root volume (mke2fs -d, no loop mount): busybox,
#                the same init scripts, haneul-agent, iotool (bench/io);
#                the initramfs switch_root's into it with root=/dev/vda
#   kvm/         irqbypass.ko kvm.ko kvm-amd.ko (for the nested harness)
#   outer-net/   llc stp bridge veth tun .ko + load.list (the harness's
#                outer VM: VPC namespaces and taps)
#   busybox      the static busybox (for the nested harness's outer initramfs)
#   version      the kernel release, e.g. 6.1.0-57-cloud-amd64
# Works offline once the cache holds the packages (the newest cached wins).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O=$root/$O ;; esac
out=${1:-$O/images/linux}
cache=${HANEUL_CACHE:-$HOME/.cache/haneul}
debs=$cache/debs

die() { echo "images/linux/build.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing tool '$1' (apt-get install -y $2)"; }
need dpkg-deb dpkg
need lz4 lz4
need cpio cpio
need gzip gzip
need grep grep
need mke2fs e2fsprogs
# Guest programs from this build (make builds them; the image is still made
# without them, loudly, so the boot tests keep working).
agent=${HANEUL_AGENT:-$O/haneul-agent}
iotool=${HANEUL_IOTOOL:-$O/bench/iotool}
for f in "$agent" "$iotool"; do
	[ -x "$f" ] || echo "images/linux/build.sh: WARNING: $f not built (make); the image goes without it" >&2
done

mkdir -p "$debs" "$out"

# fetch PKG: make sure $debs holds PKG_*.deb; print its path.  Downloads only
# when no version of PKG is cached; with no apt/network, a cached one is used.
fetch() {
	local pkg=$1 f
	f=$(ls -1 "$debs/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$f" ]; then
		need apt-get apt
		echo "images/linux: downloading $pkg" >&2
		(cd "$debs" && apt-get download "$pkg" >/dev/null 2>"$debs/.apt.err") ||
			die "apt-get download $pkg failed: $(tail -n 3 "$debs/.apt.err")"
		f=$(ls -1 "$debs/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
		[ -n "$f" ] || die "apt-get download $pkg left no .deb in $debs"
	fi
	echo "$f"
}

# The meta package names the concrete kernel package; resolve it from apt's
# metadata when we can, else take the newest kernel already cached.
kpkg=""
if command -v apt-cache >/dev/null 2>&1; then
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-cloud-amd64\)$/\1/p' | head -n 1)
fi
if [ -z "$kpkg" ]; then
	kpkg=$(ls -1 "$debs"/linux-image-6.1.0-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -n 1 |
		sed 's|.*/\(linux-image-6\.1\.0-[0-9]*-cloud-amd64\)_.*|\1|')
fi
[ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 (no apt metadata, nothing cached in $debs)"
kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)

# Skip the work when the outputs are newer than every input.
stamp=$out/.stamp
extra_inputs=()
for f in "$agent" "$iotool"; do [ -e "$f" ] && extra_inputs+=("$f"); done
if [ -f "$stamp" ] && [ -f "$out/initrd.img" ] && [ -f "$out/vmlinux" ] && [ -f "$out/rootfs.ext4" ] &&
   [ -f "$out/outer-net/load.list" ] &&
   [ "$(cat "$out/.inputs" 2>/dev/null)" = "${extra_inputs[*]:-}" ] &&
   [ -z "$(find "$kdeb" "$bdeb" "$here" ${extra_inputs[@]+"${extra_inputs[@]}"} -newer "$stamp" -print -quit)" ]; then
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/haneul-linux.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/k"
dpkg-deb -x "$bdeb" "$work/b"

vmlinuz=$(ls -1 "$work"/k/boot/vmlinuz-* | head -n 1)
[ -f "$vmlinuz" ] || die "$kdeb has no /boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$work/k/lib/modules/$kver
[ -d "$moddir" ] || die "$kdeb has no lib/modules/$kver"

# The ELF vmlinux: the payload is an LZ4 legacy stream (magic 02 21 4c 18).
# lz4 stops at the end of the stream and complains about the trailer the
# bzImage carries after it; the ELF header check below is what counts.
off=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || die "$vmlinuz: no LZ4 legacy magic (is the package still LZ4-compressed?)"
tail -c +"$((off + 1))" "$vmlinuz" | lz4 -dc >"$work/vmlinux" 2>/dev/null || true
[ "$(head -c 4 "$work/vmlinux" | od -An -tx1 | tr -d ' ')" = "7f454c46" ] ||
	die "$vmlinuz: the LZ4 payload did not decompress to an ELF file"

# Initramfs.
ir=$work/initramfs
mkdir -p "$ir"/{bin,sbin,etc,proc,sys,dev,run,tmp,root,mnt,data,lib/modules}
cp "$work/b/bin/busybox" "$ir/bin/busybox"
for a in $("$ir/bin/busybox" --list); do
	case "$a" in busybox|init) continue ;; esac
	ln -sf busybox "$ir/bin/$a"
done
ln -sf ../bin/busybox "$ir/sbin/init"
install -m 0755 "$here/rootfs/init" "$ir/init"
# common_files DIR: what the initramfs and the root volume both carry.
common_files() {
	install -m 0755 "$here/rootfs/haneul-rc" "$1/etc/haneul-rc"
	install -m 0644 "$here/rootfs/inittab" "$1/etc/inittab"
	install -m 0755 "$here/rootfs/haneul-hotplug" "$1/sbin/haneul-hotplug"
	[ -x "$agent" ] && install -m 0755 "$agent" "$1/sbin/haneul-agent"
	[ -x "$iotool" ] && install -m 0755 "$iotool" "$1/bin/iotool"
	echo haneul >"$1/etc/hostname"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
	printf 'root:x:0:\n' >"$1/etc/group"
}
common_files "$ir"
: >"$ir/etc/modules.load"
while read -r m; do
	case "$m" in ''|'#'*) continue ;; esac
	[ -f "$moddir/$m" ] || die "module $m is not in $kpkg"
	cp "$moddir/$m" "$ir/lib/modules/${m##*/}"
	echo "${m##*/}" >>"$ir/etc/modules.load"
done <"$here/modules.list"
# Deterministic archive: fixed mtimes, sorted names.
find "$ir" -exec touch -h -d @0 {} +
(cd "$ir" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
	gzip -9 -n >"$work/initrd.img"

# The root volume: the same busybox and scripts, no modules (the initramfs
# has loaded them before it switches), empty mount points.  mke2fs -d
# copies a directory into a fresh file system without mounting anything.
rf=$work/rootfs
mkdir -p "$rf"/{bin,sbin,etc,proc,sys,dev,run,tmp,root,mnt,data,var/log}
cp "$work/b/bin/busybox" "$rf/bin/busybox"
for a in $("$rf/bin/busybox" --list); do
	case "$a" in busybox|init) continue ;; esac
	ln -sf busybox "$rf/bin/$a"
done
ln -sf ../bin/busybox "$rf/sbin/init"
common_files "$rf"
echo "haneul root volume, built by images/linux/build.sh from $kpkg" >"$rf/etc/haneul-release"
chmod 1777 "$rf/tmp"
find "$rf" -exec touch -h -d @0 {} +
E2FSPROGS_FAKE_TIME=0 mke2fs -q -F -t ext4 -L haneul-root -U 5f3c6a3e-0000-4000-8000-68616e65756c \
	-E root_owner=0:0,hash_seed=5f3c6a3e-0000-4000-8000-68616e65756c \
	-d "$rf" "$work/rootfs.ext4" "${ROOTFS_SIZE:-32M}" >"$work/mke2fs.log" 2>&1 ||
	die "mke2fs -d failed: $(tail -n 3 "$work/mke2fs.log")"

# Install the outputs (atomically per file).
mkdir -p "$out/kvm"
for m in kernel/virt/lib/irqbypass.ko kernel/arch/x86/kvm/kvm.ko kernel/arch/x86/kvm/kvm-amd.ko; do
	cp "$moddir/$m" "$out/kvm/${m##*/}"
done
# What the outer VM needs for VPC namespaces (bridge, veth) and taps, in
# load order (tests/nested/harness.sh loads them after kvm).
mkdir -p "$out/outer-net"
: >"$out/outer-net/load.list"
for m in kernel/net/llc/llc.ko kernel/net/802/stp.ko kernel/net/bridge/bridge.ko \
	 kernel/drivers/net/veth.ko kernel/drivers/net/tun.ko; do
	cp "$moddir/$m" "$out/outer-net/${m##*/}"
	echo "${m##*/}" >>"$out/outer-net/load.list"
done
cp "$vmlinuz" "$out/vmlinuz.tmp" && mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
mv -f "$work/vmlinux" "$out/vmlinux"
mv -f "$work/initrd.img" "$out/initrd.img"
mv -f "$work/rootfs.ext4" "$out/rootfs.ext4"
cp "$work/b/bin/busybox" "$out/busybox.tmp" && mv -f "$out/busybox.tmp" "$out/busybox"
echo "$kver" >"$out/version"
echo "${extra_inputs[*]:-}" >"$out/.inputs"
touch "$stamp"
echo "images/linux: $kver -> $out (vmlinuz $(stat -c %s "$out/vmlinuz") B, vmlinux $(stat -c %s "$out/vmlinux") B, initrd $(stat -c %s "$out/initrd.img") B, rootfs.ext4 $(du -k "$out/rootfs.ext4" | cut -f1) KiB used)"
