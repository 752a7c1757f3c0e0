#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hot add, resize and hot remove reach a running guest with no manual step
# (one boot; the guest only polls, with bounds):
#   - `hvsim ctl NAME disk add FILE` on the boot disk's controller
#     (ENUMERATE_BUS) and on a new controller (a new VMBus offer): a new
#     sdX appears, and data moves through it intact;
#   - `disk resize N SIZE`: /sys/block/sdX/size follows, growing and
#     shrinking; the grown space is usable;
#   - `disk remove N`: the disk disappears; the others keep working;
#   - a writer busy on a disk being removed ends with an error;
#   - the removed image added again comes back with its data;
#   - quick add/remove cycles end with exactly the one disk;
#   - LUN 0 removed while LUN 1 stays (the target then scanned through
#     REPORT LUNS): LUN 1 keeps working, LUN 0 comes back when added;
#   - viridian_storvsc unloaded and loaded again: all disks come back.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init storage_hotplug
storage_seed

img0=$E2E_TMP/boot.img
img1=$E2E_TMP/add1.img
img2=$E2E_TMP/add2.img
b0=$((64 * MiB)) b1=$((96 * MiB)) b2=$((112 * MiB))
b1_grown=$((160 * MiB)) b0_shrunk=$((48 * MiB))
for f in "$img0:$b0" "$img1:$b1" "$img2:$b2"; do
	truncate -s "${f#*:}" "${f%%:*}" || e2e_abort "cannot create ${f%%:*}"
done

# What the guest does with the added disks, each stage on its own disk.
stage_write() {	# STAGE IMG NAME OFF LEN [MODE]
	local n=${#PLAN_ITEMS[@]}
	plan_write "$2" W "$3" "$4" "$5" "${6:-direct}"
	PLAN_ITEMS[n]="$1/${PLAN_ITEMS[n]}"
}
stage_read() {	# STAGE IMG NAME OFF LEN
	local n=${#PLAN_ITEMS[@]}
	plan_read "$2" "$3" "$4" "$5"
	PLAN_ITEMS[n]="$1/${PLAN_ITEMS[n]}"
}
stage_read add1 "$img1" add1-read "$(sector_in 0 $((8 * MiB)) $((3 * MiB)))" $((3 * MiB))
stage_write add1 "$img1" add1-write "$(sector_in $((9 * MiB)) $((16 * MiB)) $((2 * MiB + 4096)))" \
	$((2 * MiB + 4096))
stage_read add2 "$img2" add2-read "$(sector_in $((100 * MiB)) $((112 * MiB)) MiB)" "$MiB"
stage_write add2 "$img2" add2-write "$(sector_in 0 $((8 * MiB)) $((4 * MiB)))" $((4 * MiB))
# Past the old end of disk 1: only there once it grew.
grow_off=$(sector_in $((b1 + MiB)) $((b1_grown - MiB)) $((3 * MiB)))
stage_write grow1 "$img1" grow1-write "$grow_off" $((3 * MiB))
stage_write cycle2 "$img2" cycle2-write "$(sector_in $((64 * MiB)) $((96 * MiB)) $((2 * MiB)))" \
	$((2 * MiB))
# After the re-add: what the guest wrote before the removal.
PLAN_ITEMS+=("readd1/R:readd1-grown:$grow_off:$((3 * MiB))")

hvsim_start hp --exec "bash $E2E_GUEST/storage-hotplug.sh $((b0 / 512)) $((b1 / 512)) \
$((b2 / 512)) $((b1_grown / 512)) $((b0_shrunk / 512)) ${PLAN_ITEMS[*]}" --disk "$img0"

# add, remove, add, remove, add of disk 2, without waiting for the guest.
cycle_disks() {
	local n i ok=1
	for ((i = 0; i < 3; i++)); do
		n=$(hvsim_ctl hp disk add "$img2,ctl=1" 2>&1)
		[[ $n =~ ^[0-9]+$ ]] || { ok=; break; }
		[[ $i -eq 2 ]] && break
		hvsim_ctl hp disk remove "$n" >/dev/null 2>&1 || { ok=; break; }
	done
	if [[ -n $ok ]]; then
		pass "disk 2 added and removed twice and added again, without pauses"
	else
		fail "add/remove cycles of disk 2 failed: $n"
	fi
}

# The boot disk (LUN 0) removed while LUN 1 stays, then added again.
lun0_away_and_back() {
	wait_guest_mark hp cycles-checked 600 || return
	ctl_ok hp "hot remove LUN 0 (disk 0)" disk remove 0
	host_mark hp lun0-removed
	wait_guest_mark hp lun0-gone 600 || return
	if ctl_ok hp "add the boot image again" disk add "$img0"; then
		if hvsim_ctl hp disk list | grep -q "^$reply 0 0 .*$img0\$"; then
			pass "the boot image is LUN 0 of controller 0 again"
		else
			fail "the boot image did not get LUN 0 of controller 0: $(hvsim_ctl hp disk list | tr '\n' ';')"
		fi
	fi
	host_mark hp lun0-back
}

n1='' n2=''
if wait_guest_mark hp booted 600; then
	ctl_ok hp "hot add on controller 0" disk add "$img1" && n1=$reply
	ctl_ok hp "hot add on new controller 1" disk add "$img2,ctl=1" && n2=$reply
	hvsim_ctl hp disk list | sed 's/^/  /'
	host_mark hp added
	if wait_guest_mark hp added 600; then
		[[ $n1 =~ ^[0-9]+$ ]] && ctl_ok hp "grow disk $n1" disk resize "$n1" "$((b1_grown / MiB))M"
		ctl_ok hp "shrink disk 0" disk resize 0 "$((b0_shrunk / MiB))M"
		host_mark hp resized
		if wait_guest_mark hp resized 600; then
			[[ $n1 =~ ^[0-9]+$ ]] && ctl_ok hp "hot remove disk $n1" disk remove "$n1"
			[[ $n2 =~ ^[0-9]+$ ]] && ctl_ok hp "hot remove disk $n2" disk remove "$n2"
			if hvsim_ctl hp disk list | grep -q "$img1\|$img2"; then
				fail "disk list still shows a removed disk"
			else
				pass "disk list no longer shows the removed disks"
			fi
			host_mark hp removed
			if wait_guest_mark hp removed 600; then
				ctl_ok hp "add the removed disk again" disk add "$img1"
				host_mark hp readded
				if wait_guest_mark hp readded 600; then
					cycle_disks
					host_mark hp cycled
					lun0_away_and_back
				fi
			fi
		fi
	fi
else
	fail "the guest never got ready"
fi
hvsim_wait hp 900
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run exited $HVSIM_RC"
	show_run hp
fi
storage_relay hp
grep '^info: ' "$(out hp)" | tr -d '\r'

verify_plan hp
want=$(guest_value hp "wrote grow1-write")
for mode in direct buffered; do
	got=$(guest_value hp "read readd1-grown $mode")
	if [[ -n $want && $got == "$want" ]]; then
		pass "re-added disk: $mode read of the grown area returns what was written before removal"
	else
		fail "re-added disk: $mode read of the grown area gives '${got:-nothing}', ${want:-nothing} was written"
	fi
done
check "grown image is $b1_grown bytes" test "$(stat -c %s "$img1")" -eq "$b1_grown"
check "shrunk image is $b0_shrunk bytes" test "$(stat -c %s "$img0")" -eq "$b0_shrunk"

check_storage_logs hp
check_console hp
e2e_finish
