#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The offered devices appear on the guest's vmbus bus, named by instance
# GUID, with well-formed sysfs attributes; viridian_ic arrives by modalias
# autoload (guest-init loads only viridian_vmbus) and binds heartbeat and
# shutdown.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init enumeration

# The README's command, verbatim.
hvsim_exec ls --exec 'ls /sys/bus/vmbus/devices'
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run --exec 'ls /sys/bus/vmbus/devices' exited $HVSIM_RC"
	show_run ls
else
	pass "hvsim run --exec 'ls /sys/bus/vmbus/devices' exited 0"
fi
mapfile -t listed < <(tr -s ' \t' '\n' <"$(out ls)" | grep -v '^$')
if [[ ${#listed[@]} -ge 2 ]]; then
	pass "ls lists ${#listed[@]} devices"
else
	fail "ls lists ${#listed[@]} devices, expected at least heartbeat and shutdown"
fi
bad=0
for name in "${listed[@]}"; do
	[[ $name =~ ^$GUID_RE$ ]] || { fail "device name '$name' is not an instance GUID"; bad=1; }
done
[[ $bad -eq 0 && ${#listed[@]} -gt 0 ]] && pass "every device is named by a lower-case GUID"
check_console ls

hvsim_exec attrs --exec "bash $E2E_GUEST/dump-vmbus.sh"
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "attribute dump exited $HVSIM_RC"
	show_run attrs
fi

declare -A seen_ids=() bound_class=()
devices=0
bad=0
guid_braced="^\\{$GUID_RE\\}$"
while read -r _ name rest; do
	devices=$((devices + 1))
	declare -A a=()
	for kv in $rest; do
		a[${kv%%=*}]=${kv#*=}
	done
	class=${a[class_id]:-} device=${a[device_id]:-}
	[[ $class =~ $guid_braced ]] || { fail "$name: class_id '$class' is not {GUID}"; bad=1; }
	[[ $device =~ $guid_braced ]] || { fail "$name: device_id '$device' is not {GUID}"; bad=1; }
	[[ ${device//[\{\}]/} == "$name" ]] ||
		{ fail "$name: device_id '$device' is not the device's name"; bad=1; }
	want="vmbus:$(guid_to_modalias_hex "$class")"
	[[ ${a[modalias]:-} == "$want" ]] ||
		{ fail "$name: modalias '${a[modalias]:-}', expected '$want'"; bad=1; }
	[[ ${a[vendor]:-} == 0x1414 ]] || { fail "$name: vendor '${a[vendor]:-}', expected 0x1414"; bad=1; }
	id=${a[id]:-}
	if [[ ! $id =~ ^[0-9]+$ || $id -eq 0 ]]; then
		fail "$name: id '$id' is not a relid"
		bad=1
	elif [[ -n ${seen_ids[$id]:-} ]]; then
		fail "$name: id $id also used by ${seen_ids[$id]}"
		bad=1
	fi
	seen_ids[$id]=$name
	[[ ${a[driver]:-} != - ]] && bound_class[${class//[\{\}]/}]=${a[driver]}
	unset a
done < <(grep '^dev ' "$(out attrs)")

if [[ $devices -eq 0 ]]; then
	fail "no devices in the attribute dump"
elif [[ $bad -eq 0 ]]; then
	pass "$devices devices: class_id, device_id, modalias, vendor, id well formed"
fi
if [[ $devices -ne ${#listed[@]} ]]; then
	fail "the two boots saw ${#listed[@]} and $devices devices"
fi

if grep -qx 'module viridian_ic loaded' "$(out attrs)"; then
	pass "viridian_ic autoloaded by modalias"
else
	fail "viridian_ic not loaded (modalias autoload: modules.alias in modroot, udev)"
fi
for class in "$CLASS_HEARTBEAT" "$CLASS_SHUTDOWN" "$CLASS_TIMESYNC"; do
	if [[ -n ${bound_class[$class]:-} ]]; then
		pass "device of class $class bound to ${bound_class[$class]}"
	else
		fail "no device of class $class with a driver bound"
	fi
done
check_console attrs
e2e_finish
