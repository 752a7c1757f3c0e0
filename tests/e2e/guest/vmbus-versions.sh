#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (tests/e2e/vmbus_versions.sh): lsvmbus over our sysfs,
# then for every VMBus version, highest first, the bus is reloaded with
# max_version=V and must negotiate exactly V and bring the integration
# components back with their driver, answering heartbeats.
#
# usage: vmbus-versions.sh LSVMBUS VERSION...
# shellcheck source=tests/e2e/guest/vmbus-lib.sh
source "$(dirname "$0")/vmbus-lib.sh"
lsvmbus=$1
shift

# --- lsvmbus -vv lists every device with its class name ---------------
settle || not_ok "bus settled at boot"
if out=$(python3 "$lsvmbus" -vv 2>&1); then
	ok "lsvmbus -vv exits 0"
else
	not_ok "lsvmbus -vv failed: $out"
fi
# shellcheck disable=SC2001 # a prefix on every line, which ${out//} cannot anchor
sed 's/^/info: lsvmbus: /' <<<"$out"
n=0
for dev in "$bus"/devices/*; do
	[[ -e $dev ]] || continue
	name=$(basename "$dev")
	id=$(<"$dev/id")
	class=$(<"$dev/class_id")
	case $class in
	"{$CLASS_HEARTBEAT}") desc='[Heartbeat]' ;;
	"{$CLASS_SHUTDOWN}") desc='[Operating system shutdown]' ;;
	"{$CLASS_SCSI}") desc='Synthetic SCSI Controller' ;;
	"{$CLASS_TIMESYNC}") desc='[Time Synchronization]' ;;
	*) desc= ;;
	esac
	n=$((n + 1))
	line="VMBUS ID ${id}: Class_ID = $class - ${desc:-Unknown}"
	# lsvmbus pads the ID to two columns.
	((id < 10)) && line="VMBUS ID  ${id}: Class_ID = $class - ${desc:-Unknown}"
	check "lsvmbus lists $name as '$line'" grep -qxF "$line" <<<"$out"
	check "lsvmbus shows Device_ID {$name}" grep -qxF $'\tDevice_ID = {'"$name}" <<<"$out"
	check "lsvmbus shows the sysfs path of $name" \
		grep -qxF $'\tSysfs path: '"$bus/devices/$name" <<<"$out"
	cpu=$(chan_attr "$name" cpu)
	check "lsvmbus maps relid $id to CPU $cpu" \
		grep -qxF $'\tRel_ID='"$id, target_cpu=$cpu" <<<"$out"
done
check "lsvmbus found the $n devices of sysfs (at least heartbeat and shutdown)" \
	test "$n" -ge 2 -a "$(grep -c '^VMBUS ID' <<<"$out")" -eq "$n"

# --- every version, one reload each ------------------------------------
for v in "$@"; do
	dmesg_mark
	if ! err=$(unload_stack 2>&1); then
		not_ok "$v: unloading the stack: $err"
		break
	fi
	if ! err=$(modprobe viridian_vmbus max_version="$v" 2>&1); then
		not_ok "$v: modprobe viridian_vmbus max_version=$v: $err"
		break
	fi
	echo "loaded $v"
	if ! settle; then
		not_ok "$v: bus did not settle (offers_delivered $(cat "$bus/offers_delivered" 2>&1))"
		continue
	fi
	got=$(cat "$bus/version" 2>&1)
	check "$v: /sys/bus/vmbus/version reads $v (got $got)" test "$got" = "$v"
	check "$v: dmesg says VMBus $v negotiated" \
		grep -q "VMBus $v negotiated" <(dmesg_new)
	for class in "$CLASS_HEARTBEAT" "$CLASS_SHUTDOWN"; do
		mapfile -t devs < <(devices_of "$class")
		if [[ ${#devs[@]} -eq 0 ]]; then
			not_ok "$v: no device of class $class"
			continue
		fi
		for dev in "${devs[@]}"; do
			if wait_for 30 bound "$dev"; then
				ok "$v: $dev (class $class) bound to $(driver_of "$dev")"
			else
				not_ok "$v: $dev (class $class) has no driver"
			fi
		done
	done
	hb=$(devices_of "$CLASS_HEARTBEAT" | head -n 1)
	if [[ -n $hb ]]; then
		check "$v: heartbeats arrive and are answered" heartbeat_flows "$hb"
		# Retargeting needs MODIFYCHANNEL, from 4.1 on; below, even a
		# write of the current CPU must fail.
		relid=$(relid_of "$hb")
		cpu=$(chan_attr "$hb" cpu)
		if echo "$cpu" 2>/dev/null >"$bus/devices/$hb/channels/$relid/cpu"; then
			wrote=1
		else
			wrote=0
		fi
		case $v in
		2.4 | 3.0 | 4.0) check "$v: channel cpu not writable (no MODIFYCHANNEL)" test $wrote = 0 ;;
		*) check "$v: channel cpu writable" test $wrote = 1 ;;
		esac
	fi
	no_kernel_warning "$v"
done

# --- max_version is a cap, in either spelling; nothing below 2.4 ----------
dmesg_mark
for spec in 2.3:- 1.1:- abc:- 0x50002:5.2 9.9:5.3; do
	arg=${spec%%:*} want=${spec#*:}
	unload_stack 2>/dev/null
	if [[ $want == - ]]; then
		check "max_version=$arg refused" \
			bash -c "! modprobe viridian_vmbus max_version=$arg 2>/dev/null"
		check "max_version=$arg: bus absent" test ! -e "$bus"
		continue
	fi
	if modprobe viridian_vmbus max_version="$arg" 2>/dev/null && settle; then
		check "max_version=$arg negotiates $want" test "$(cat "$bus/version")" = "$want"
		# The host counts the heartbeat answers of every load.
		hb=$(devices_of "$CLASS_HEARTBEAT" | head -n 1)
		check "max_version=$arg: heartbeats arrive and are answered" \
			heartbeat_flows "${hb:-none}"
	else
		not_ok "max_version=$arg: modprobe or settle failed"
	fi
done
check "the kernel says why a cap is refused" \
	grep -q 'max_version=2.3 names no version' <(dmesg_new)
no_kernel_warning "max_version caps"
echo "done"
