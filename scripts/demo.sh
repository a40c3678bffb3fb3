#!/usr/bin/env bash
# scripts/demo.sh - haneul's main command (make demo): an Application Load
# Balancer in front of an Auto Scaling group of tiny-guest microVMs, built
# with the real AWS CLI against a haneuld started here, then scaled out by
# CPU load and back in when the load stops.  Cleans up everything it made.
#
#   scripts/demo.sh            (root, /dev/kvm; a few minutes)
#   DEMO_PERIOD=5 DEMO_TARGET=50 DEMO_CLIENTS=4 DEMO_KEEP=1 scripts/demo.sh
#
# DEMO_PERIOD: metric period in seconds (CloudWatch's is 60; labs use a few).
# DEMO_KEEP=1: leave everything running at the end (prints how to stop it).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
AWS=/usr/bin/aws
PERIOD=${DEMO_PERIOD:-5}
TARGET=${DEMO_TARGET:-50}
CLIENTS=${DEMO_CLIENTS:-4}
MIN=2 MAX=4
T0=$(date +%s)

say() { printf '\033[1m[%4ds] %s\033[0m\n' $(($(date +%s) - T0)) "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, taps)"
[ -c /dev/kvm ] && [ -w /dev/kvm ] || die "needs /dev/kvm"
for b in haneuld haneul-lb haneul-vmm images/tiny/tiny.elf; do
	[ -e "$BUILD/$b" ] || die "$BUILD/$b missing: run make first"
done
[ -x "$AWS" ] || die "$AWS missing (apt-get install awscli)"
command -v curl >/dev/null || die "curl missing"

W=$(mktemp -d /tmp/haneul-demo.XXXXXX)
D=$W/data
export AWS_SHARED_CREDENTIALS_FILE=$W/credentials AWS_CONFIG_FILE=$W/config AWS_DEFAULT_REGION=ap-northeast-2
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION
printf '[default]\nregion = ap-northeast-2\n' >"$AWS_CONFIG_FILE"
HPID=

LOAD_PIDS=""
stop_load() { rm -f "$W/load"; [ -n "$LOAD_PIDS" ] && wait $LOAD_PIDS 2>/dev/null; LOAD_PIDS=""; }
cleanup() {
	local f p
	stop_load
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		say "left running: AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE aws --endpoint-url $EP ...;" \
			"stop with: kill $HPID \$(cat $D/lb/lb.pid) and the VMMs in $D/ec2/i-*/vmm.pid"
		return
	fi
	[ -n "$HPID" ] && kill -TERM "$HPID" 2>/dev/null && wait "$HPID" 2>/dev/null
	VPCNS=$(sed -n 's/.*default VPC in network namespace \(hn-[0-9a-f]*\).*/\1/p' "$W/haneuld.log" 2>/dev/null | head -1)
	for f in "$D"/ec2/i-*/vmm.pid "$D"/lb/lb.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		[ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q 'haneul-\(vmm\|lb\)' &&
			kill -KILL "$p" 2>/dev/null
	done
	sleep 0.2
	[ -n "$VPCNS" ] && "$BUILD/haneul-net" vpc-delete "$VPCNS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting haneuld (metric period ${PERIOD}s); it starts haneul-lb"
mkdir -p "$D"
HANEUL_METRIC_PERIOD=$PERIOD "$BUILD/haneuld" --data-dir "$D" --listen 127.0.0.1:0 --tiny-mem 32 --stop-timeout 5 \
	>"$W/haneuld.log" 2>&1 &
HPID=$!
for _ in $(seq 1 100); do [ -s "$D/endpoint" ] && break; sleep 0.1; done
EP=$(cat "$D/endpoint" 2>/dev/null) || die "haneuld did not start: $(tail -3 "$W/haneuld.log")"
aws() { "$AWS" --endpoint-url "$EP" "$@"; }
say "haneuld at $EP (log: $W/haneuld.log)"

say "IAM: user 'demo' with ElasticLoadBalancingFullAccess, AutoScalingFullAccess, AmazonEC2FullAccess"
ROOT="AWS_SHARED_CREDENTIALS_FILE=$D/root-credentials"
env "$ROOT" "$AWS" --endpoint-url "$EP" iam create-user --user-name demo >/dev/null || die "create-user"
for p in ElasticLoadBalancingFullAccess AutoScalingFullAccess AmazonEC2FullAccess; do
	env "$ROOT" "$AWS" --endpoint-url "$EP" iam attach-user-policy --user-name demo \
		--policy-arn "arn:aws:iam::aws:policy/$p" || die "attach $p"
done
read -r AK SK < <(env "$ROOT" "$AWS" --endpoint-url "$EP" iam create-access-key --user-name demo \
	--query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >"$AWS_SHARED_CREDENTIALS_FILE"

AMI=$(aws ec2 describe-images --filters Name=name,Values=haneul-tiny --query 'Images[0].ImageId' --output text)
VPC=$(aws ec2 describe-vpcs --query 'Vpcs[0].VpcId' --output text)
SUBNETS=$(aws ec2 describe-subnets --query 'Subnets[].SubnetId' --output text)
say "launch template 'web' of $AMI (haneul-tiny)"
aws ec2 create-launch-template --launch-template-name web \
	--launch-template-data "{\"ImageId\":\"$AMI\",\"InstanceType\":\"t3.micro\"}" >/dev/null || die "launch template"
say "ALB 'web' + target group (health check /health every 5 s) + HTTP listener"
TG=$(aws elbv2 create-target-group --name web --protocol HTTP --port 80 --vpc-id "$VPC" \
	--health-check-path /health --health-check-interval-seconds 5 --health-check-timeout-seconds 2 \
	--healthy-threshold-count 2 --unhealthy-threshold-count 2 \
	--query 'TargetGroups[0].TargetGroupArn' --output text) || die "target group"
aws elbv2 modify-target-group-attributes --target-group-arn "$TG" \
	--attributes Key=deregistration_delay.timeout_seconds,Value=5 >/dev/null
# shellcheck disable=SC2086
LB=$(aws elbv2 create-load-balancer --name web --subnets $SUBNETS --type application \
	--query 'LoadBalancers[0].LoadBalancerArn' --output text) || die "load balancer"
aws elbv2 create-listener --load-balancer-arn "$LB" --protocol HTTP --port 80 \
	--default-actions "Type=forward,TargetGroupArn=$TG" >/dev/null || die "listener"
aws elbv2 wait load-balancer-available --load-balancer-arns "$LB"
ADDR=$(aws elbv2 describe-load-balancers --load-balancer-arns "$LB" \
	--query 'LoadBalancers[0].AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress' --output text)
DNS=$(aws elbv2 describe-load-balancers --load-balancer-arns "$LB" --query 'LoadBalancers[0].DNSName' --output text)

say "Auto Scaling group 'web': min $MIN, max $MAX, ELB health checks, CPU target tracking at $TARGET %"
aws autoscaling create-auto-scaling-group --auto-scaling-group-name web --launch-template LaunchTemplateName=web \
	--min-size $MIN --max-size $MAX --target-group-arns "$TG" --health-check-type ELB \
	--health-check-grace-period 15 --default-instance-warmup $((PERIOD * 2)) \
	--vpc-zone-identifier "$(echo "$SUBNETS" | tr '\t ' ',,')" || die "auto scaling group"
aws autoscaling put-scaling-policy --auto-scaling-group-name web --policy-name cpu$TARGET \
	--policy-type TargetTrackingScaling --target-tracking-configuration \
	"{\"PredefinedMetricSpecification\":{\"PredefinedMetricType\":\"ASGAverageCPUUtilization\"},\"TargetValue\":$TARGET}" \
	--query 'Alarms[].AlarmName' --output text | sed 's/^/        alarms: /'

in_service() {
	aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names web \
		--query "length(AutoScalingGroups[0].Instances[?LifecycleState=='InService'])" --output text
}
healthy() {
	aws elbv2 describe-target-health --target-group-arn "$TG" \
		--query "length(TargetHealthDescriptions[?TargetHealth.State=='healthy'])" --output text
}
desired() {
	aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names web \
		--query 'AutoScalingGroups[0].DesiredCapacity' --output text
}
group_cpu() {
	aws cloudwatch get-metric-statistics --namespace AWS/EC2 --metric-name CPUUtilization \
		--dimensions Name=AutoScalingGroupName,Value=web --statistics Average --period "$PERIOD" \
		--start-time "$(date -u -d "-$((PERIOD * 3)) sec" +%FT%TZ)" --end-time "$(date -u -d '+1 min' +%FT%TZ)" \
		--query 'sort_by(Datapoints,&Timestamp)[-1].Average' --output text
}
wait_healthy() { # N SECONDS
	local i
	for i in $(seq 1 "$2"); do
		[ "$(healthy)" -ge "$1" ] 2>/dev/null && return 0
		sleep 1
	done
	return 1
}

say "waiting for $MIN healthy targets"
wait_healthy $MIN 120 || die "the instances did not become healthy"
aws elbv2 describe-target-health --target-group-arn "$TG" \
	--query 'TargetHealthDescriptions[].[Target.Id,Target.AvailabilityZone,TargetHealth.State]' --output text |
	sed 's/^/        /'
echo
say "open http://$ADDR/   (DNS name $DNS; nothing resolves it here, use the address)"
say "8 requests through the load balancer:"
for _ in $(seq 1 8); do curl -s -m 5 "http://$ADDR/"; done | sort | uniq -c | sed 's/^/        /'

say "load: $CLIENTS clients calling /burn?ms=400 in a loop"
touch "$W/load"
for _ in $(seq 1 "$CLIENTS"); do
	( while [ -f "$W/load" ]; do curl -s -m 20 -o /dev/null "http://$ADDR/burn?ms=400"; done ) &
	LOAD_PIDS="$LOAD_PIDS $!"
done
LOAD_T=$(date +%s)
OUT_T=
for _ in $(seq 1 40); do
	sleep "$PERIOD"
	n=$(in_service); d=$(desired)
	say "group: desired $d, in service $n, healthy targets $(healthy), group CPU $(group_cpu) %"
	if [ -z "$OUT_T" ] && [ "$d" -ge $MAX ] 2>/dev/null; then OUT_T=$(date +%s); fi
	[ "$n" -ge $MAX ] 2>/dev/null && [ "$(healthy)" -ge $MAX ] && break
done
OUT_DONE=$(date +%s)
[ -n "$OUT_T" ] || die "the group did not scale out (see $W/haneuld.log)"
# When the policy acted: the first activity its AlarmHigh caused.
first_activity() { # PATTERN: epoch seconds of the oldest activity whose cause matches
	local t
	t=$(aws autoscaling describe-scaling-activities --auto-scaling-group-name web \
		--query "Activities[?contains(Cause,'$1')].StartTime | [-1]" --output text)
	date -d "$t" +%s 2>/dev/null
}
OUT_T=$(first_activity AlarmHigh || echo "$OUT_T")
say "scaled out to $MAX: the policy raised the desired capacity $((OUT_T - LOAD_T)) s after the load started" \
	"($(((OUT_T - LOAD_T + PERIOD - 1) / PERIOD)) metric periods); $MAX healthy targets after $((OUT_DONE - LOAD_T)) s"
say "8 requests now:"
for _ in $(seq 1 8); do curl -s -m 20 "http://$ADDR/"; done | sort | uniq -c | sed 's/^/        /'

say "load stopped"
stop_load
STOP_T=$(date +%s)
IN_T=
for _ in $(seq 1 60); do
	sleep "$PERIOD"
	n=$(in_service); d=$(desired)
	say "group: desired $d, in service $n, group CPU $(group_cpu) %"
	if [ -z "$IN_T" ] && [ "$d" -le $MIN ] 2>/dev/null; then IN_T=$(date +%s); fi
	[ -n "$IN_T" ] && [ "$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names web \
		--query 'length(AutoScalingGroups[0].Instances)' --output text)" -le $MIN ] && break
done
IN_DONE=$(date +%s)
[ -n "$IN_T" ] || die "the group did not scale in"
IN_T=$(first_activity AlarmLow || echo "$IN_T")
say "scaled in to $MIN: the policy lowered the desired capacity $((IN_T - STOP_T)) s after the load stopped" \
	"($(((IN_T - STOP_T + PERIOD - 1) / PERIOD)) metric periods); back to $MIN instances after $((IN_DONE - STOP_T)) s"
say "scaling activities (newest first):"
aws autoscaling describe-scaling-activities --auto-scaling-group-name web \
	--query 'Activities[].[StatusCode,Description]' --output text | sed 's/^/        /'
aws autoscaling describe-scaling-activities --auto-scaling-group-name web \
	--query 'Activities[0].Cause' --output text | fold -s -w 100 | sed 's/^/        /'

printf 'DEMO RESULT: period=%ss scale_out_periods=%s scale_in_periods=%s scale_out_s=%s scale_in_s=%s total_s=%s\n' \
	"$PERIOD" $(((OUT_T - LOAD_T + PERIOD - 1) / PERIOD)) $(((IN_T - STOP_T + PERIOD - 1) / PERIOD)) \
	$((OUT_T - LOAD_T)) $((IN_T - STOP_T)) $(($(date +%s) - T0))
[ "${DEMO_KEEP:-0}" = 1 ] && exit 0

say "cleaning up through the API"
aws autoscaling delete-auto-scaling-group --auto-scaling-group-name web --force-delete
for _ in $(seq 1 60); do
	[ "$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names web \
		--query 'length(AutoScalingGroups)' --output text)" = 0 ] && break
	sleep 1
done
aws elbv2 delete-listener --listener-arn "$(aws elbv2 describe-listeners --load-balancer-arn "$LB" \
	--query 'Listeners[0].ListenerArn' --output text)"
aws elbv2 delete-load-balancer --load-balancer-arn "$LB"
aws elbv2 delete-target-group --target-group-arn "$TG"
aws ec2 delete-launch-template --launch-template-name web >/dev/null
say "done"
