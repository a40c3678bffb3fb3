#!/usr/bin/env bash
# scripts/install-deps.sh - install the Debian 12 packages haneul needs to build,
# test and benchmark.  Idempotent; needs root (or sudo).
set -euo pipefail
PKGS=(
	# build
	build-essential pkg-config clang lld linux-libc-dev
	libjson-c-dev libcmocka-dev libssl-dev libsqlite3-dev libmicrohttpd-dev libxml2-dev
	libnl-3-dev libnl-route-3-dev
	# guests, nested real-KVM harness, benchmarks
	qemu-system-x86 qemu-utils busybox-static lz4 cpio gzip xz-utils e2fsprogs
	# tests drive the real AWS CLI and boto3
	awscli python3 python3-boto3 procps iproute2 iputils-ping curl openssl
	# benchmarks (peers)
	nginx-light acpica-tools haproxy wrk
)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "install-deps: all packages present"
fi
