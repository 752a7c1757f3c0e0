#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# With --smp 2 the guest runs on both CPUs and every channel targets one of
# them (channel_vp_mapping: "relid:cpu" per channel, the primary's relid
# being the device's id).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init smp

hvsim_exec smp --smp 2 --exec "bash $E2E_GUEST/smp-check.sh"
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run --smp 2 exited $HVSIM_RC"
	show_run smp
	check_console smp
	e2e_finish
fi
o=$(out smp)
check "guest sees 2 CPUs" grep -qx 'nproc 2' "$o"
check "CPUs 0-1 online" grep -qx 'online 0-1' "$o"

declare -A dev_id=() primary_ok=()
while read -r _ name id; do
	dev_id[$name]=$id
done < <(grep '^id ' "$o")
bad=0
lines=0
while read -r _ name mapping; do
	lines=$((lines + 1))
	if [[ ! $mapping =~ ^([0-9]+):([0-9]+)$ ]]; then
		fail "$name: channel_vp_mapping line '$mapping' is not relid:cpu"
		bad=1
		continue
	fi
	relid=${BASH_REMATCH[1]} cpu=${BASH_REMATCH[2]}
	if [[ $cpu -gt 1 ]]; then
		fail "$name: channel $relid targets CPU $cpu of 2"
		bad=1
	fi
	[[ $relid == "${dev_id[$name]:-}" ]] && primary_ok[$name]=1
done < <(grep '^mapping ' "$o")
if [[ ${#dev_id[@]} -eq 0 ]]; then
	fail "no VMBus devices"
elif [[ $lines -eq 0 ]]; then
	fail "no channel_vp_mapping lines"
else
	for name in "${!dev_id[@]}"; do
		[[ -n ${primary_ok[$name]:-} ]] ||
			{ fail "$name: primary channel ${dev_id[$name]} missing from channel_vp_mapping"; bad=1; }
	done
	[[ $bad -eq 0 ]] && pass "channel_vp_mapping of ${#dev_id[@]} devices valid ($lines channels on CPUs 0-1)"
fi
check_console smp
e2e_finish
