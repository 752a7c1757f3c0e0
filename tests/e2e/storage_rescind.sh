#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A SCSI controller rescinded while the host holds I/O (one boot):
#   - disk 1 on controller 1 holds every command (`disk fault 1 stall 0`);
#     a reader and a writer get caught; then `hvsim ctl NAME rescind` takes
#     the controller away. The host will never answer what it held: the
#     guest fails both at once (far inside the 180 s SCSI timeout), its SCSI
#     host goes away, and controller 0's disk keeps working;
#   - `hvsim ctl NAME offer` brings the controller back: the disk returns
#     with what was written before the rescind, and takes writes again.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init storage_rescind
storage_seed

img0=$E2E_TMP/keep.img
img1=$E2E_TMP/away.img
b0=$((64 * MiB)) b1=$((80 * MiB))
for f in "$img0:$b0" "$img1:$b1"; do
	truncate -s "${f#*:}" "${f%%:*}" || e2e_abort "cannot create ${f%%:*}"
done
# Controller 1's instance (host-sim/vsp/storvsp.c: f8b3781a + index).
ctl1=f8b3781b-1e82-4818-a1c3-63d806ec15bb
before_off=$(sector_in 0 $((16 * MiB)) $((2 * MiB)) 4096)
plan_read "$img1" before "$before_off" $((2 * MiB))

hvsim_start rs --disk "$img0" --disk "$img1,ctl=1" \
	--exec "bash $E2E_GUEST/storage-rescind.sh $((b0 / 512)) $((b1 / 512)) $before_off $ctl1"

if ! wait_guest_mark rs booted 600; then
	fail "the guest never got ready"
else
	ctl_ok rs "hold every command of disk 1" disk fault 1 stall 0
	host_mark rs stalled
	if wait_guest_mark rs held 600; then
		ctl_ok rs "rescind controller 1 with I/O held" rescind "$ctl1"
		# Re-offered, the disk must answer again.
		ctl_ok rs "end the stall" disk fault 1 clear
		host_mark rs rescinded
		if wait_guest_mark rs gone 600; then
			ctl_ok rs "offer controller 1 again" offer "$ctl1"
			host_mark rs offered
		fi
	fi
fi
hvsim_wait rs 900
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run exited $HVSIM_RC"
	show_run rs
fi
storage_relay rs
grep '^info: ' "$(out rs)" | tr -d '\r'

got=$(guest_value rs "read before-again")
want=$(img_range_sha "$img1" "$before_off" $((2 * MiB)))
if [[ -n $got && $got == "$want" ]]; then
	pass "after the re-offer the guest reads disk 1's data again"
else
	fail "after the re-offer the guest read ${got:-nothing}, the image has $want"
fi
plan_write "$img1" W after-write $((40 * MiB)) "$MiB"
plan_write "$img0" W keep-write $((8 * MiB)) "$MiB"
verify_plan rs

check_storage_logs rs
check_console rs
e2e_finish
