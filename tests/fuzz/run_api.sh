#!/usr/bin/env bash
# tests/fuzz/run_api.sh [SECONDS] - run the API fuzz targets for a bounded time
# each (default 60 s) from a small seed corpus; prints executions and findings.
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-60}
# Own output dir: build-fuzz/ belongs to everyone's `make fuzz`.
FO=${FUZZ_O:-build/fuzz-api}
make -s FUZZ_O="$FO" "$FO"/tests/fuzz/fuzz_api_query "$FO"/tests/fuzz/fuzz_api_sigv4 \
	"$FO"/tests/fuzz/fuzz_api_policy >/dev/null || exit 1
rc=0
for t in query sigv4 policy; do
	c=$FO/fuzz-corpus/api_$t; mkdir -p "$c" "$FO/fuzz-findings/api_$t"
	case $t in
	query) printf 'Action=CreateUser&Version=2010-05-08&UserName=a%%2Bb+c' >"$c/seed1"
	       printf 'Targets.member.1.Id=i-1&Targets.member.2.Port=80&Filter.1.Value.1=x' >"$c/seed2" ;;
	sigv4) printf 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a' >"$c/seed1" ;;
	policy) printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*","Condition":{"StringLike":{"aws:username":"a*"}}}]}' >"$c/seed1" ;;
	esac
	log=$FO/fuzz-api_$t.log
	timeout $((SECS + 60)) "$FO/tests/fuzz/fuzz_api_$t" -max_total_time="$SECS" -max_len=4096 \
		-artifact_prefix="$FO/fuzz-findings/api_$t/" "$c" >"$log" 2>&1
	r=$?
	execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	[ -z "$execs" ] && execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
	crashes=$(ls "$FO/fuzz-findings/api_$t" | wc -l)
	echo "fuzz_api_$t: ${SECS}s, ${execs:-?} executions, $crashes findings, exit $r"
	[ "$r" -ne 0 ] || [ "$crashes" -ne 0 ] && rc=1
done
exit $rc
