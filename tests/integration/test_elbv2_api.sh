#!/usr/bin/env bash
# ELBv2 + CloudWatch end to end (issue 7): a real haneuld running haneul-lb,
# the real AWS CLI and boto3, ip targets that are HTTP/TCP backends on
# 127.0.0.1 (no /dev/kvm needed).  Cases in fleet_cases.py (elbv2_*).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
CASES=$(sed -n 's/^def \(elbv2_[a-z0-9_]*\)().*/\1/p' "$(dirname "$0")/fleet_cases.py")
api_need_tools $CASES || exit 0
if [ ! -x "$BUILD/haneul-lb" ]; then
	for n in $CASES; do skip "$n" "$BUILD/haneul-lb not built"; done
	exit 0
fi
exec timeout 900 "$PY" "$(dirname "$0")/fleet_cases.py" "$BUILD" elbv2
