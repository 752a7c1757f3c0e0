#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/storage_hotplug.sh. Every change comes from the
# host while this runs; the guest only waits (bounded) for it to show, with
# no rescan or other manual step.
#
# usage: storage-hotplug.sh S0 S1 S2 S1_GROWN S0_SHRUNK ITEM...
#   S0: sectors of the disk present at boot; S1, S2: of the disks the host
#   adds (S1 on the boot disk's controller, S2 on a new one); S1_GROWN and
#   S0_SHRUNK their sizes after the host's resize.
#   ITEMs are run_io_items items prefixed with the stage and disk they
#   belong to: "add1/...", "add2/..." (after the add), "grow1/..." (after
#   the resize), "readd1/..." (after disk 1 came back), "cycle2/..." (after
#   the add/remove cycles of disk 2).
# Stages: g-booted -> h-added -> g-added -> h-resized -> g-resized ->
# h-removed -> g-removed -> h-readded -> g-readded -> h-cycled ->
# g-cycles-checked -> h-lun0-removed -> g-lun0-gone -> h-lun0-back; then the
# driver is unloaded and loaded again.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"

s0=$1 s1=$2 s2=$3 s1_grown=$4 s0_shrunk=$5
shift 5
items=("$@")
WAIT=180

# run_stage DISK PREFIX: run_io_items on /dev/DISK with the items of that
# stage, prefix removed.
run_stage() {
	local it stage=()
	for it in "${items[@]}"; do
		[[ $it == "$2/"* ]] && stage+=("${it#"$2/"}")
	done
	run_io_items "/dev/$1" "${stage[@]}"
}

# wait_disk_size VAR SECTORS: until a disk of that size shows; its name in VAR.
wait_disk_size() {
	local start=$SECONDS name
	if wait_for "$WAIT" disk_by_size "$2"; then
		name=$(disk_by_size "$2")
		printf -v "$1" %s "$name"
		ok "disk of $2 sectors appeared as $name after $((SECONDS - start)) s"
		return 0
	fi
	not_ok "no disk of $2 sectors within $WAIT s (disks: $(scsi_disks | xargs); sizes: $(cat /sys/block/sd*/size 2>/dev/null | xargs))"
	return 1
}

# Polled through wait_for.
# shellcheck disable=SC2317
size_is() { [[ $(cat "/sys/block/$1/size" 2>/dev/null) == "$2" ]]; }
# shellcheck disable=SC2317
gone() { [[ ! -e /sys/block/$1 ]]; }
# shellcheck disable=SC2317
ended() { ! kill -0 "$1" 2>/dev/null; }

finish() {
	echo "done"
	exit 0
}

d0=$(disk_by_size "$s0")
check "boot disk of $s0 sectors present (${d0:-none}; disks: $(scsi_disks | xargs))" test -n "$d0"
[[ -n $d0 ]] || finish
head -c 1M /dev/urandom >"$work/d0-data"
dd if="$work/d0-data" of="/dev/$d0" bs=1M seek=1 oflag=direct conv=notrunc status=none
d0_sha=$(sha256sum <"$work/d0-data" | cut -d' ' -f1)

# Hot add: a LUN on the boot disk's controller and a new controller.
mark booted
wait_host added 600 || { not_ok "the host never added the disks"; finish; }
d1='' d2=''
wait_disk_size d1 "$s1"
wait_disk_size d2 "$s2"
[[ -n $d1 ]] && run_stage "$d1" add1
[[ -n $d2 ]] && run_stage "$d2" add2
info "after add: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# Resize: one grows, one shrinks.
mark added
wait_host resized 600 || { not_ok "the host never resized the disks"; finish; }
if [[ -n $d1 ]]; then
	start=$SECONDS
	if wait_for "$WAIT" size_is "$d1" "$s1_grown"; then
		ok "$d1 grew from $s1 to $s1_grown sectors by itself after $((SECONDS - start)) s"
		check "$d1: blockdev --getsize64 agrees" \
			test "$(blockdev --getsize64 "/dev/$d1")" = $((s1_grown * 512))
		run_stage "$d1" grow1
	else
		not_ok "$d1 still has $(cat /sys/block/"$d1"/size) sectors, not $s1_grown, after $WAIT s"
	fi
fi
start=$SECONDS
if wait_for "$WAIT" size_is "$d0" "$s0_shrunk"; then
	ok "$d0 shrank from $s0 to $s0_shrunk sectors by itself after $((SECONDS - start)) s"
	drop_caches
	check "$d0: data below the new end intact" \
		test "$(dev_sha "/dev/$d0" $((1 << 20)) $((1 << 20)) direct)" = "$d0_sha"
	if dd if="/dev/$d0" of=/dev/null bs=4096 count=1 skip=$((s0_shrunk / 8)) \
		iflag=direct status=none 2>/dev/null &&
	   [[ $(dd if="/dev/$d0" bs=4096 count=1 skip=$((s0_shrunk / 8)) iflag=direct \
		status=none 2>/dev/null | wc -c) -gt 0 ]]; then
		not_ok "$d0: a block past the new end still reads"
	else
		ok "$d0: nothing to read past the new end"
	fi
else
	not_ok "$d0 still has $(cat /sys/block/"$d0"/size) sectors, not $s0_shrunk, after $WAIT s"
fi
info "after resize: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# Hot remove, one disk with a writer busy on it.
writer=
if [[ -n $d2 ]]; then
	# Rewrites [16 MiB, 41 MiB) until a write fails.
	(
		while dd if=/dev/zero of="/dev/$d2" bs=256K seek=64 count=100 oflag=direct \
			conv=notrunc status=none 2>"$work/writer-err"; do
			:
		done
		exit 1
	) &
	writer=$!
	sleep 1
fi
mark resized
wait_host removed 600 || { not_ok "the host never removed the disks"; finish; }
for d in $d1 $d2; do
	start=$SECONDS
	if wait_for "$WAIT" gone "$d"; then
		ok "$d disappeared by itself after $((SECONDS - start)) s"
	else
		not_ok "$d still present $WAIT s after its removal (state $(cat /sys/block/"$d"/device/state 2>/dev/null))"
	fi
done
if [[ -n $writer ]]; then
	if wait_for "$WAIT" ended "$writer"; then
		if wait "$writer"; then
			not_ok "the writer busy on the removed $d2 ended without an error"
		else
			ok "the writer busy on the removed $d2 ended with an error: $(head -n 1 "$work/writer-err")"
		fi
	else
		not_ok "the writer busy on the removed $d2 still runs $WAIT s later"
		kill "$writer"
	fi
fi
drop_caches
check "$d0 still works after the removals" \
	test "$(dev_sha "/dev/$d0" $((1 << 20)) $((1 << 20)) direct)" = "$d0_sha"
info "after remove: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# The removed disk comes back, with what was written to it.
mark removed
wait_host readded 600 || { not_ok "the host never added the disk again"; finish; }
d1b=
wait_disk_size d1b "$s1_grown"
[[ -n $d1b ]] && run_stage "$d1b" readd1
info "after re-add: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# Quick add/remove cycles the host does without waiting for the guest:
# the last state (present) wins, with exactly one disk for the image.
mark readded
wait_host cycled 600 || { not_ok "the host never cycled the disk"; finish; }
count_size() {
	local n=0 d
	for d in $(scsi_disks); do
		[[ $(cat "/sys/block/$d/size" 2>/dev/null) == "$1" ]] && n=$((n + 1))
	done
	echo "$n"
}
d2b=
wait_disk_size d2b "$s2"
sleep 5
check "exactly one disk of $s2 sectors after the cycles ($(count_size "$s2"); disks: $(scsi_disks | xargs))" \
	test "$(count_size "$s2")" = 1
[[ -n $d2b ]] && run_stage "$d2b" cycle2
info "after cycles: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# LUN 0 leaves while LUN 1 stays: the target is then scanned through
# REPORT LUNS, and LUN 1 must not go with it. Then LUN 0 comes back.
d1b_sha=
[[ -n $d1b ]] && d1b_sha=$(dev_sha "/dev/$d1b" 0 $((1 << 20)) direct)
mark cycles-checked
wait_host lun0-removed 600 || { not_ok "the host never removed LUN 0"; finish; }
start=$SECONDS
if wait_for "$WAIT" gone "$d0"; then
	ok "LUN 0 ($d0) disappeared by itself after $((SECONDS - start)) s"
else
	not_ok "LUN 0 ($d0) still present $WAIT s after its removal"
fi
sleep 3
if [[ -n $d1b ]]; then
	check "LUN 1 ($d1b) still there and reading the same after LUN 0 left" \
		test "$(dev_sha "/dev/$d1b" 0 $((1 << 20)) direct)" = "$d1b_sha"
fi
mark lun0-gone
wait_host lun0-back 600 || { not_ok "the host never added LUN 0 again"; finish; }
d0=
wait_disk_size d0 "$s0_shrunk"
if [[ -n $d0 ]]; then
	check "LUN 0 back with its data" \
		test "$(dev_sha "/dev/$d0" $((1 << 20)) $((1 << 20)) direct)" = "$d0_sha"
fi
info "after LUN 0 came back: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"

# The driver unloaded and loaded again: every disk goes and comes back.
udevadm settle --timeout=30
for ((i = 0; i < 10; i++)); do
	rmmod viridian_storvsc 2>"$work/rmmod" && break
	sleep 1
done
if lsmod | grep -q '^viridian_storvsc '; then
	not_ok "rmmod viridian_storvsc: $(head -n 1 "$work/rmmod")"
else
	ok "viridian_storvsc unloaded"
	check "no SCSI disk left after unloading ($(scsi_disks | xargs))" test -z "$(scsi_disks)"
	check "modprobe viridian_storvsc" modprobe viridian_storvsc
	for size in "$s0_shrunk" "$s1_grown" "$s2"; do
		wait_disk_size d "$size"
	done
	d0=$(disk_by_size "$s0_shrunk")
	if [[ -n $d0 ]]; then
		check "boot disk's data intact after the reload" \
			test "$(dev_sha "/dev/$d0" $((1 << 20)) $((1 << 20)) direct)" = "$d0_sha"
	fi
fi
info "after reload: $(lsblk -d -n -o NAME,SIZE,HCTL | tr '\n' ';')"
for d in $(scsi_disks); do
	check "$d running" test "$(cat /sys/block/"$d"/device/state)" = running
done
finish
