#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest: CYCLES times, unload the whole stack and load it again
# by loading viridian_vmbus only; the devices must come back, and their
# drivers with them through modalias autoload.
cycles=${1:-20}
bus=/sys/bus/vmbus

settled() {
	local v=
	for ((i = 0; i < 300; i++)); do
		read -r v <"$bus/offers_delivered" 2>/dev/null
		[[ $v == 1 ]] && break
		sleep 0.1
	done
	[[ $v == 1 ]] && udevadm settle --timeout=30
}

device_list() {
	find "$bus/devices" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}

bound_count() {
	local n=0 dev
	for dev in "$bus"/devices/*; do
		[[ -L $dev/driver ]] && n=$((n + 1))
	done
	echo "$n"
}

before=$(device_list)
bound_before=$(bound_count)
echo "initial devices: $before (bound: $bound_before)"
[[ -n $before ]] || { echo "reload: no devices before the first cycle"; exit 1; }

ok=0
for ((c = 1; c <= cycles; c++)); do
	# Everything that sits on the bus first, then the bus, then the layer.
	mods=()
	for m in $(lsmod | awk '$1 ~ /^viridian_/ && $1 != "viridian_vmbus" && $1 != "viridian_hv" {print $1}'); do
		mods+=("$m")
	done
	if ! err=$(rmmod "${mods[@]}" viridian_vmbus viridian_hv 2>&1); then
		echo "cycle $c failed: rmmod ${mods[*]} viridian_vmbus viridian_hv: $err"
		continue
	fi
	if [[ -e $bus ]]; then
		echo "cycle $c failed: $bus still present after rmmod"
		continue
	fi
	if ! err=$(modprobe viridian_vmbus 2>&1); then
		echo "cycle $c failed: modprobe viridian_vmbus: $err"
		continue
	fi
	if ! settled; then
		echo "cycle $c failed: bus did not settle (offers_delivered, udevadm settle)"
		continue
	fi
	after=$(device_list)
	bound=$(bound_count)
	if [[ $after != "$before" ]]; then
		echo "cycle $c failed: devices now '$after', were '$before'"
		continue
	fi
	if [[ $bound != "$bound_before" ]]; then
		echo "cycle $c failed: $bound devices bound, were $bound_before"
		continue
	fi
	ok=$((ok + 1))
	echo "cycle $c ok"
done
echo "reload: $ok of $cycles cycles ok"
[[ $ok == "$cycles" ]]
