#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest: CPUs seen, then every device's channel_vp_mapping.
echo "nproc $(nproc)"
echo "online $(cat /sys/devices/system/cpu/online)"
for dev in /sys/bus/vmbus/devices/*; do
	[[ -e $dev ]] || continue
	name=$(basename "$dev")
	echo "id $name $(cat "$dev/id" 2>/dev/null || echo '<unreadable>')"
	if [[ ! -r $dev/channel_vp_mapping ]]; then
		echo "mapping $name <missing>"
		continue
	fi
	while IFS= read -r line; do
		echo "mapping $name $line"
	done <"$dev/channel_vp_mapping"
done
