#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/storage_faults.sh.
#
# usage: storage-faults.sh SECTORS BAD_LBA BAD_COUNT FILL_OFF FILL_LEN
#   FILL_OFF/FILL_LEN: the range the host filled before boot (checksums
#   of its pieces are printed: "read NAME SHA"); the medium error covers
#   BAD_COUNT blocks from BAD_LBA inside it.
# Stages: g-booted -> h-medium (error injected) -> g-medium-checked ->
# h-cleared -> g-timed-ready -> h-timed (2.5 s stall) -> g-timed-done ->
# h-timed-cleared -> g-release-ready -> h-release-stalled ->
# g-release-issued -> h-released -> g-release-done -> h-release-cleared ->
# g-stall-ready -> h-stall (every command held until the guest's bus
# reset ends the stall) -> g-hang-ready -> h-hang (the controller stops,
# resets too; the host clears once the guest reset the bus) -> done.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"

sectors=$1 bad_lba=$2 bad_count=$3 fill_off=$4 fill_len=$5
bad_off=$((bad_lba * 512)) bad_len=$((bad_count * 512))

finish() {
	echo "done"
	exit 0
}

d=$(disk_by_size "$sectors")
check "disk of $sectors sectors present (${d:-none}; disks: $(scsi_disks | xargs))" test -n "$d"
[[ -n $d ]] || finish
dev=/dev/$d

# try_read NAME OFF LEN [direct]: print "read NAME SHA" on success; the
# dd error in $work/err otherwise.
try_read() {
	local flags=skip_bytes,count_bytes bs=64K sha
	[[ ${4:-} == direct ]] && flags=$flags,direct bs=$3
	if dd if="$dev" of="$work/data" bs="$bs" skip="$2" count="$3" iflag="$flags" \
		status=none 2>"$work/err"; then
		sha=$(sha256sum <"$work/data" | cut -d' ' -f1)
		echo "read $1 $sha"
		return 0
	fi
	return 1
}

# must_fail_eio WHAT NAME OFF LEN [direct]: the read fails with EIO, or
# for O_DIRECT with ENODATA: the block layer's errno for a medium error
# (BLK_STS_MEDIUM) when nothing in between turns it into EIO, as the page
# cache does.
must_fail_eio() {
	local what=$1
	shift
	if try_read "$@"; then
		not_ok "$what succeeded"
	elif grep -q 'Input/output error' "$work/err"; then
		ok "$what fails with EIO"
	elif [[ ${4:-} == direct ]] && grep -q 'No data available' "$work/err"; then
		ok "$what fails with ENODATA (medium error)"
	else
		not_ok "$what failed, but not with EIO: $(head -n 1 "$work/err")"
	fi
}

# must_read WHAT NAME OFF LEN [direct]
must_read() {
	local what=$1
	shift
	if try_read "$@"; then
		ok "$what succeeds"
	else
		not_ok "$what failed: $(head -n 1 "$work/err")"
	fi
}

# --- medium error -----------------------------------------------------------
mark booted
wait_host medium 600 || { not_ok "the host never injected the medium error"; finish; }
dmesg_mark
drop_caches
must_fail_eio "O_DIRECT read of exactly the bad blocks" bad-exact "$bad_off" "$bad_len" direct
must_fail_eio "O_DIRECT 1 MiB read over the bad blocks" bad-1m $((bad_off - 512 * 1024)) $((1 << 20)) direct
drop_caches
must_fail_eio "buffered read over the bad blocks" bad-buffered $((bad_off - 64 * 1024)) $((128 * 1024))
must_read "O_DIRECT read of the 1 MiB before the bad blocks" before-1m $((bad_off - (1 << 20))) $((1 << 20)) direct
must_read "O_DIRECT read of the 1 MiB after the bad blocks" after-1m $((bad_off + bad_len)) $((1 << 20)) direct
drop_caches
# The page cache reads whole pages: start at the first page clear of them.
must_read "buffered read of the 2 MiB after the bad blocks' last page" after-2m-buffered \
	$(((bad_off + bad_len + 4095) / 4096 * 4096)) $((2 << 20))
must_read "O_DIRECT read of the first filled MiB" first-1m "$fill_off" $((1 << 20)) direct
write_range "$dev" medium-time-write $((fill_off + fill_len + (4 << 20))) $((1 << 20)) direct
check "the kernel logged a medium error" sh -c "dmesg | tail -n +$((dmesg_lines + 1)) | grep -qi 'medium error'"
info "medium error log: $(dmesg_since | grep -i -m 3 'medium\|I/O error' | tr '\n' ';')"
check "disk still running after the medium errors" test "$(cat /sys/block/"$d"/device/state)" = running

mark medium-checked
wait_host cleared 600 || { not_ok "the host never cleared the medium error"; finish; }
drop_caches
must_read "O_DIRECT read of the former bad blocks after clear" bad-after-clear "$bad_off" "$bad_len" direct

# --- a timed stall: slower, nothing else -----------------------------------
echo 6 >/sys/block/"$d"/device/timeout
info "timeout $(cat /sys/block/"$d"/device/timeout) s, eh_timeout $(cat /sys/block/"$d"/device/eh_timeout) s"
mark timed-ready
wait_host timed 600 || { not_ok "the host never set the timed stall"; finish; }
dmesg_mark
t0=${EPOCHREALTIME/./}
write_range "$dev" timed-write $((fill_off + fill_len + (6 << 20))) $((1 << 20)) direct
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
check "a write under a 2.5 s stall took ${ms} ms (at least 2000)" test "$ms" -ge 2000
check "no reset for a stall shorter than the timeout" \
	sh -c "! dmesg | tail -n +$((dmesg_lines + 1)) | grep -q 'resetting the bus'"
mark timed-done
wait_host timed-cleared 600 || { not_ok "the host never cleared the timed stall"; finish; }

# --- held until released, before any timeout ------------------------------
mark release-ready
wait_host release-stalled 600 || { not_ok "the host never stalled the disk for release"; finish; }
dmesg_mark
write_range "$dev" release-write $((fill_off + fill_len + (7 << 20) + (64 << 10))) $((512 << 10)) direct \
	>"$work/release-out" &
writer=$!
# Released only once the host holds it: the request is with the driver
# (device_busy) and had a moment to cross. A release before it arrived
# would leave it held until the timeout.
# shellcheck disable=SC2317 # polled through wait_for
busy() { (($(cat /sys/block/"$d"/device/device_busy) > 0)); }
if ! wait_for 30 busy; then
	not_ok "the write under 'stall 0' never reached the driver"
fi
sleep 1
if kill -0 "$writer" 2>/dev/null; then
	ok "a write under 'stall 0' is held"
else
	not_ok "a write under 'stall 0' completed before the release"
fi
t0=${EPOCHREALTIME/./}
mark release-issued
wait_host released 600 || { not_ok "the host never released the held commands"; finish; }
if wait "$writer"; then
	ok "the held write completed $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after the release was asked for"
else
	not_ok "the held write failed after the release"
fi
cat "$work/release-out"
check "no reset for commands released before the timeout" \
	sh -c "! dmesg | tail -n +$((dmesg_lines + 1)) | grep -q 'resetting the bus'"
mark release-done
wait_host release-cleared 600 || { not_ok "the host never cleared the stall"; finish; }

# --- held commands, timeout, reset, recovery --------------------------------
# recover_phase PHASE BASE: data written at BASE; the host then holds every
# command (PHASE stall: the disk's commands, until a reset; hang: the whole
# controller, resets too, until the host clears it). A reader and a writer
# get caught; the midlayer's timeout starts error handling, whose bus reset
# makes the host abort what it holds (once it answers the reset at all);
# the retried commands then complete.
recover_phase() {
	local phase=$1 a_off=$2 b_off=$(($2 + (8 << 20))) c_off=$(($2 + (12 << 20)))
	local a_sha reader start

	write_range "$dev" "$phase-before" "$a_off" $((4 << 20)) direct
	a_sha=$(dev_sha "$dev" "$a_off" $((4 << 20)) direct)
	dmesg_mark
	mark "$phase-ready"
	wait_host "$phase" 600 || { not_ok "the host never set the $phase"; finish; }
	start=$SECONDS
	dd if="$dev" bs=1M skip="$a_off" count=$((4 << 20)) iflag=direct,skip_bytes,count_bytes \
		status=none 2>"$work/rerr" | sha256sum | cut -d' ' -f1 >"$work/rsha" &
	reader=$!
	if write_range "$dev" "$phase-during" "$b_off" $((2 << 20)) direct; then
		ok "$phase: O_DIRECT write issued while held completed after $((SECONDS - start)) s"
	fi
	wait "$reader"
	check "$phase: read issued while held returns the data written before" \
		test "$(cat "$work/rsha")" = "$a_sha"
	check "$phase: the guest reset the bus" \
		sh -c "dmesg | tail -n +$((dmesg_lines + 1)) | grep -q 'resetting the bus'"
	info "$phase recovery log: $(dmesg_since | grep -v '^\s*$' | tail -n 12 | tr '\n' ';')"
	check "$phase: disk running after the recovery (state $(cat /sys/block/"$d"/device/state))" \
		test "$(cat /sys/block/"$d"/device/state)" = running
	drop_caches
	check "$phase: data written before intact" \
		test "$(dev_sha "$dev" "$a_off" $((4 << 20)) direct)" = "$a_sha"
	must_read "$phase: O_DIRECT read of the first filled MiB after recovery" \
		"first-1m-after-$phase" "$fill_off" $((1 << 20)) direct
	write_range "$dev" "$phase-after" "$c_off" $((1 << 20)) direct
	check "$phase: write after recovery reads back" \
		test "$(dev_sha "$dev" "$c_off" $((1 << 20)) direct)" = \
		"$(grep "^[^ ]* $phase-after " "$work/written" | cut -d' ' -f5)"
}

recover_phase stall $((fill_off + fill_len + (8 << 20)))
recover_phase hang $((fill_off + fill_len + (24 << 20)))
finish
