#!/usr/bin/env bash
# EC2 on haneul end to end (issue 6): a real haneuld, real haneul-vmm microVMs
# running the tiny guest on the local /dev/kvm, the real AWS CLI and boto3.
# The cases are in ec2_cases.py (one PASS/FAIL line each).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
. "$(dirname "$0")/ec2_lib.sh"
CASES=$(sed -n 's/^def \(ec2_[a-z0-9_]*\|boto3_[a-z0-9_]*\|haneul_[a-z0-9_]*\)().*/\1/p' "$(dirname "$0")/ec2_cases.py")
ec2_need $CASES || exit 0
[ -x "$HANEUL" ] || { for n in $CASES; do skip "$n" "$HANEUL not built"; done; exit 0; }
exec "$PY" "$(dirname "$0")/ec2_cases.py" "$BUILD"
