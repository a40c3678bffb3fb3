# bench/ec2: RunInstances -> running latency and launch rate of tiny
# instances through haneuld (`make bench-ec2`; needs /dev/kvm, awscli's boto3).
bench-ec2: $(O)/haneuld $(O)/haneul-vmm $(O)/haneul-net $(O)/images/tiny/tiny.elf
	O=$(O) bench/ec2/run.sh

.PHONY: bench-ec2
