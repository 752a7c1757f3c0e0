#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/storage_kinds.sh.
#
# usage: storage-kinds.sh S_SCSI S_IDE S_FC IDE_INSTANCE IDE_TARGET
#        FC_INSTANCE FC_PORT FC_NODE ITEM...
#   S_*: each disk's size in 512-byte sectors; ITEM: DISK/run_io_items item
#   with DISK scsi, ide or fc.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"

s_scsi=$1 s_ide=$2 s_fc=$3 ide_inst=$4 ide_target=$5 fc_inst=$6 fc_port=$7 fc_node=$8
shift 8
ide_class=32412632-86cb-44a2-9b5c-50d1417354f5
fc_class=2f9bcc4a-0069-4af3-b76b-6fd0be528cda
vmbus=/sys/bus/vmbus/devices

finish() {
	echo "done"
	exit 0
}

# shellcheck disable=SC2317 # polled through wait_for
all_disks() {
	disk_by_size "$s_scsi" >/dev/null && disk_by_size "$s_ide" >/dev/null &&
		disk_by_size "$s_fc" >/dev/null
}
wait_for 120 all_disks
info "disks: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# The VMBus device: its class and driver.
for k in "ide:$ide_inst:$ide_class" "fc:$fc_inst:$fc_class"; do
	IFS=: read -r kind inst class <<<"$k"
	if [[ -e $vmbus/$inst ]]; then
		check "$kind controller $inst offered with class {$class} (got $(cat "$vmbus/$inst/class_id"))" \
			test "$(cat "$vmbus/$inst/class_id")" = "{$class}"
		check "$kind controller bound to viridian_storvsc" \
			test "$(basename "$(readlink "$vmbus/$inst/driver")")" = viridian_storvsc
	else
		not_ok "no VMBus device $inst ($kind controller); devices: $(cd "$vmbus" && echo *)"
	fi
done

# host_of DISK: the SCSI host number of sdX; hctl_of: its H:C:T:L.
hctl_of() { basename "$(readlink -f "/sys/block/$1/device")"; }
host_of() { hctl_of "$1" | cut -d: -f1; }

ide=$(disk_by_size "$s_ide")
check "IDE disk present (${ide:-none})" test -n "$ide"
if [[ -n $ide ]]; then
	check "IDE disk sits on the IDE controller" \
		sh -c "readlink -f /sys/block/$ide/device | grep -q $ide_inst"
	hctl=$(hctl_of "$ide")
	check "IDE disk at target $ide_target, LUN 0 (H:C:T:L $hctl)" \
		test "$(cut -d: -f2- <<<"$hctl")" = "0:$ide_target:0"
fi

fc=$(disk_by_size "$s_fc")
check "FC disk present (${fc:-none})" test -n "$fc"
if [[ -n $fc ]]; then
	fch=/sys/class/fc_host/host$(host_of "$fc")
	if [[ -d $fch ]]; then
		check "FC port_name is the host's WWN $fc_port (got $(cat "$fch/port_name"))" \
			test "$(cat "$fch/port_name")" = "$fc_port"
		check "FC node_name is the host's WWN $fc_node (got $(cat "$fch/node_name"))" \
			test "$(cat "$fch/node_name")" = "$fc_node"
	else
		not_ok "no $fch: the FC transport class is not attached"
	fi
fi

scsi=$(disk_by_size "$s_scsi")
check "SCSI disk present (${scsi:-none})" test -n "$scsi"
if [[ -n $scsi ]]; then
	check "the SCSI controller has no FC transport" \
		test ! -e "/sys/class/fc_host/host$(host_of "$scsi")"
fi

# The planned I/O, disk by disk.
for k in "ide:$ide" "fc:$fc" "scsi:$scsi"; do
	kind=${k%%:*} d=${k#*:}
	[[ -n $d ]] || continue
	items=()
	for item in "$@"; do
		[[ $item == "$kind/"* ]] && items+=("${item#"$kind"/}")
	done
	run_io_items "/dev/$d" "${items[@]}"
done
finish
