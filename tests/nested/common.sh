# shellcheck shell=bash
# tests/nested/common.sh - shared by tests/nested/test_*.sh (sourced after
# tests/lib.sh).  nested_prepare NAME... : make sure the tools and the Linux
# images are there; on a miss prints a loud SKIP for every NAME and returns 1.
nested_prepare() {
	local why=""
	if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
		why="qemu-system-x86_64 missing (apt-get install -y qemu-system-x86)"
	elif ! O=$O "$HANEUL_ROOT/images/linux/build.sh" "$BUILD/images/linux" >"$BUILD/nested-image.log" 2>&1; then
		why="cannot build the Linux images (make linux-image): $(tail -n 1 "$BUILD/nested-image.log")"
	fi
	if [ -n "$why" ]; then
		local n
		for n in "$@"; do skip "$n" "$why"; done
		return 1
	fi
	return 0
}
