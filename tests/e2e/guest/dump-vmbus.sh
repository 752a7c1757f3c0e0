#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest: one line per VMBus device with the attributes the
# host-side tests check, then which viridian modules are loaded.
bus=/sys/bus/vmbus
attr() {
	local v
	v=$(cat "$1" 2>/dev/null) || v='<unreadable>'
	printf '%s' "${v:-<empty>}"
}
for dev in "$bus"/devices/*; do
	[[ -e $dev ]] || continue
	driver=-
	[[ -L $dev/driver ]] && driver=$(basename "$(readlink "$dev/driver")")
	printf 'dev %s class_id=%s device_id=%s modalias=%s vendor=%s id=%s driver=%s\n' \
		"$(basename "$dev")" "$(attr "$dev/class_id")" "$(attr "$dev/device_id")" \
		"$(attr "$dev/modalias")" "$(attr "$dev/vendor")" "$(attr "$dev/id")" "$driver"
done
for mod in viridian_hv viridian_vmbus viridian_ic; do
	if [[ -d /sys/module/$mod ]]; then
		echo "module $mod loaded"
	else
		echo "module $mod absent"
	fi
done
