#!/usr/bin/env bash
# Auto Scaling behind an ALB on real tiny-guest instances (issue 7): a real
# haneuld (haneul-lb, haneul-vmm on the local /dev/kvm), the real AWS CLI.
# Cases in fleet_cases.py (asg_*): spread over AZs and targets, killed VMM
# replaced, protection and scale-in choice, CPU load scaling out to max and
# back in to min, haneuld restart keeping the group and the load balancer.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
. "$(dirname "$0")/ec2_lib.sh"
CASES=$(sed -n 's/^def \(asg_[a-z0-9_]*\)().*/\1/p' "$(dirname "$0")/fleet_cases.py")
ec2_need $CASES || exit 0
why=""
[ -x "$BUILD/haneul-lb" ] || why="$BUILD/haneul-lb not built"
[ -z "$why" ] && [ "$(id -u)" != 0 ] && why="needs root (VPC network namespace for the instances)"
[ -z "$why" ] && [ ! -c /dev/net/tun ] && why="needs /dev/net/tun"
if [ -n "$why" ]; then
	for n in $CASES; do skip "$n" "$why"; done
	exit 0
fi
exec timeout 1500 "$PY" "$(dirname "$0")/fleet_cases.py" "$BUILD" asg
