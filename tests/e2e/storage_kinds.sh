#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The three kinds of storage controller host-sim offers, on one boot:
#   - `--disk FILE,ctl=1,ide`: an IDE-accelerator offer (its own class
#     GUID, the target in its instance GUID); viridian_storvsc binds it and
#     adds its one disk at that target, with no bus scan;
#   - `--disk FILE,ctl=2,fc`: a synthetic FC HBA; the guest's FC transport
#     shows the WWNs the host answered to FCHBA_DATA;
#   - beside a plain SCSI controller; data moves intact both ways on each.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init storage_kinds
storage_seed

scsi_img=$E2E_TMP/scsi.img ide_img=$E2E_TMP/ide.img fc_img=$E2E_TMP/fc.img
scsi_b=$((64 * MiB)) ide_b=$((72 * MiB)) fc_b=$((80 * MiB))
for f in "$scsi_img:$scsi_b" "$ide_img:$ide_b" "$fc_img:$fc_b"; do
	truncate -s "${f#*:}" "${f%%:*}" || e2e_abort "cannot create ${f%%:*}"
done
# What host-sim/vsp/storvsp.c gives controllers 1 (IDE) and 2 (FC).
ide_instance=00000000-0001-8899-0000-000000000000 ide_target=1
fc_instance=2f9bcc4c-0069-4af3-b76b-6fd0be528cda
fc_port=0x50015d0000000102 fc_node=0x50015d0000000202

stage() {	# DISK then plan_read/plan_write arguments
	local disk=$1 n=${#PLAN_ITEMS[@]}
	shift
	"$@"
	PLAN_ITEMS[n]="$disk/${PLAN_ITEMS[n]}"
}
for k in ide:"$ide_img" fc:"$fc_img" scsi:"$scsi_img"; do
	disk=${k%%:*} img=${k#*:}
	stage "$disk" plan_read "$img" "$disk-read" "$(sector_in 0 $((16 * MiB)) $((3 * MiB)) 4096)" \
		$((3 * MiB))
	stage "$disk" plan_write "$img" W "$disk-write" \
		"$(sector_in $((20 * MiB)) $((60 * MiB)) $((2 * MiB + 4096)))" $((2 * MiB + 4096))
done

hvsim_exec kinds --disk "$scsi_img" --disk "$ide_img,ctl=1,ide" --disk "$fc_img,ctl=2,fc" \
	--exec "bash $E2E_GUEST/storage-kinds.sh $((scsi_b / 512)) $((ide_b / 512)) $((fc_b / 512)) \
$ide_instance $ide_target $fc_instance $fc_port $fc_node ${PLAN_ITEMS[*]}"
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run exited $HVSIM_RC"
	show_run kinds
fi
storage_relay kinds
grep '^info: ' "$(out kinds)" | tr -d '\r'
verify_plan kinds
check_storage_logs kinds
check_console kinds
e2e_finish
