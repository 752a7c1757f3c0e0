#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (tests/e2e/vmbus_retarget.sh), with 2 CPUs and a SCSI
# disk: under each VMBus version given (4.1 and later know MODIFYCHANNEL;
# 5.3 answers it), every open channel of heartbeat and the SCSI controller
# is moved to the other CPU through channels/<relid>/cpu; the host checks
# its view, then heartbeats and disk I/O must still work.
#
# usage: vmbus-retarget.sh VERSION...
# shellcheck source=tests/e2e/guest/vmbus-lib.sh
source "$(dirname "$0")/vmbus-lib.sh"

settle || not_ok "bus settled at boot"
check "the guest has 2 CPUs" test "$(nproc)" = 2

# move DEV RELID CPU: write the CPU and read it back, in cpu and in the
# device's channel_vp_mapping.
move() {
	local dir=$bus/devices/$1/channels/$2
	echo "$3" 2>/dev/null >"$dir/cpu" || return 1
	[[ $(<"$dir/cpu") == "$3" ]] && grep -qx "$2:$3" "$bus/devices/$1/channel_vp_mapping"
}

first=1
for v in "$@"; do
	if [[ -z $first ]]; then
		reload_bus "$v" || break
	else
		check "$v: /sys/bus/vmbus/version reads $v" test "$(cat "$bus/version")" = "$v"
	fi
	first=
	dmesg_mark
	hb=$(devices_of "$CLASS_HEARTBEAT" | head -n 1)
	scsi=$(devices_of "$CLASS_SCSI" | head -n 1)
	if [[ -z $hb || -z $scsi ]]; then
		not_ok "$v: heartbeat (${hb:-none}) and SCSI (${scsi:-none}) devices present"
		break
	fi
	wait_for 60 bound "$hb" || not_ok "$v: heartbeat has no driver"
	wait_for 60 disk_of "$scsi" || not_ok "$v: the SCSI controller shows no disk"
	disk=$(disk_of "$scsi")
	# Sub-channels are offered and opened once the driver asks for them.
	sleep 2
	moved=()
	for dev in "$hb" "$scsi"; do
		for relid in $(channels_of "$dev"); do
			cpu=$(<"$bus/devices/$dev/channels/$relid/cpu")
			new=$((1 - cpu))
			if move "$dev" "$relid" "$new"; then
				ok "$v: channel $relid of $dev moved from CPU $cpu to $new"
				moved+=("$relid:$new")
			else
				not_ok "$v: channel $relid of $dev did not move from CPU $cpu to $new"
			fi
		done
	done
	info "$v: channel_vp_mapping of the controller: $(tr '\n' ' ' <"$bus/devices/$scsi/channel_vp_mapping")"
	step "moved-$v" "${moved[@]}" || break

	check "$v: heartbeats arrive and are answered after the move" heartbeat_flows "$hb"
	before=$(interrupts_of "$scsi")
	check "$v: 8 MiB written and read back on $disk with O_DIRECT" rw_check "$disk" 8
	check "$v: 32 MiB read from $disk with O_DIRECT" \
		dd if="/dev/$disk" of=/dev/null bs=1M count=32 iflag=direct status=none
	after=$(interrupts_of "$scsi")
	check "$v: the controller's channels took interrupts for it ($before -> $after)" \
		test "$after" -gt "$before"

	# What the attribute must refuse.
	relid=$(relid_of "$hb")
	check "$v: CPU 2 of 2 refused" \
		bash -c "! echo 2 2>/dev/null >'$bus/devices/$hb/channels/$relid/cpu'"
	check "$v: 'x' refused" \
		bash -c "! echo x 2>/dev/null >'$bus/devices/$hb/channels/$relid/cpu'"
	no_kernel_warning "$v"
done

# --- CPU hotplug: a CPU that channels target may not go offline ---------------
cpu1=/sys/devices/system/cpu/cpu1/online
offline_cpu1() { echo 0 2>/dev/null >"$cpu1"; }
online_cpu1() { echo 1 2>/dev/null >"$cpu1"; }
dmesg_mark
hb=$(devices_of "$CLASS_HEARTBEAT" | head -n 1)
scsi=$(devices_of "$CLASS_SCSI" | head -n 1)
hb_relid=$(relid_of "$hb")
if [[ -n $hb ]] && move "$hb" "$hb_relid" 1; then
	check "CPU 1 refuses to go offline while heartbeat's channel targets it" \
		bash -c "! echo 0 2>/dev/null >$cpu1"
	check "CPU 1 still online" test "$(<"$cpu1")" = 1
	check "the kernel says why" grep -q 'CPU 1 stays online' <(dmesg_new)
	check "heartbeats still flow on CPU 1" heartbeat_flows "$hb"
else
	not_ok "heartbeat's channel moved to CPU 1"
fi
moved=()
for dev in "$bus"/devices/*; do
	[[ -e $dev ]] || continue
	dev=${dev##*/}
	for relid in $(channels_of "$dev"); do
		[[ $(<"$bus/devices/$dev/channels/$relid/cpu") == 0 ]] && continue
		if move "$dev" "$relid" 0; then
			moved+=("$relid:0")
		else
			not_ok "channel $relid of $dev moved to CPU 0"
		fi
	done
done
info "moved to CPU 0: ${moved[*]}"
if offline_cpu1; then
	ok "with every channel on CPU 0, CPU 1 goes offline"
	check "CPU 1 offline" test "$(cat /sys/devices/system/cpu/online)" = 0
	check "no channel can move to the offline CPU 1" \
		bash -c "! echo 1 2>/dev/null >'$bus/devices/$hb/channels/$hb_relid/cpu'"
	step cpu1-offline "${moved[@]}"
	check "heartbeats flow with CPU 1 offline" heartbeat_flows "$hb"
	disk=$(disk_of "$scsi")
	check "disk I/O works with CPU 1 offline" rw_check "$disk" 4
	check "CPU 1 comes back online" online_cpu1
	check "heartbeat's channel moves back to CPU 1" move "$hb" "$hb_relid" 1
	check "heartbeats flow on CPU 1 again" heartbeat_flows "$hb"
	check "disk I/O works after CPU 1 came back" rw_check "$disk" 4
else
	not_ok "with every channel on CPU 0, CPU 1 goes offline"
	online_cpu1
fi
no_kernel_warning "CPU hotplug"
echo "done"
