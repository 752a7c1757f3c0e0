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
# h-cleared -> g-stall-ready -> h-stalled (every command held; the host
# clears the stall once the guest resets the bus) -> done.
source "$(dirname "$0")/storage-lib.sh"

sectors=$1 bad_lba=$2 bad_count=$3 fill_off=$4 fill_len=$5
bad_off=$((bad_lba * 512)) bad_len=$((bad_count * 512))

finish() {
	echo done
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

# --- stall, timeout, reset, recovery ----------------------------------------
# The midlayer's timeout starts error handling; the bus reset makes the host
# abort what it holds, and the commands are retried once the host lets
# them run again.
echo 6 >/sys/block/"$d"/device/timeout
info "timeout $(cat /sys/block/"$d"/device/timeout) s, eh_timeout $(cat /sys/block/"$d"/device/eh_timeout) s"
a_off=$((fill_off + fill_len + (8 << 20)))
b_off=$((a_off + (8 << 20)))
write_range "$dev" stall-before "$a_off" $((4 << 20)) direct
a_sha=$(dev_sha "$dev" "$a_off" $((4 << 20)) direct)
dmesg_mark
mark stall-ready
wait_host stalled 600 || { not_ok "the host never stalled the disk"; finish; }
start=$SECONDS
# A reader and a writer caught in the stall.
dd if="$dev" bs=1M skip="$a_off" count=$((4 << 20)) iflag=direct,skip_bytes,count_bytes \
	status=none 2>"$work/rerr" | sha256sum | cut -d' ' -f1 >"$work/rsha" &
reader=$!
if write_range "$dev" stall-during "$b_off" $((2 << 20)) direct; then
	ok "O_DIRECT write issued during the stall completed after $((SECONDS - start)) s"
fi
wait "$reader"
check "read issued during the stall returns the data written before it" \
	test "$(cat "$work/rsha")" = "$a_sha"
check "the guest reset the bus" sh -c "dmesg | tail -n +$((dmesg_lines + 1)) | grep -q 'resetting the bus'"
info "recovery log: $(dmesg_since | grep -v '^\s*$' | tail -n 12 | tr '\n' ';')"
check "disk running after the recovery (state $(cat /sys/block/"$d"/device/state))" \
	test "$(cat /sys/block/"$d"/device/state)" = running
drop_caches
check "data written before the stall intact" \
	test "$(dev_sha "$dev" "$a_off" $((4 << 20)) direct)" = "$a_sha"
must_read "O_DIRECT read of the first filled MiB after recovery" first-1m-after "$fill_off" $((1 << 20)) direct
write_range "$dev" after-recovery $((b_off + (4 << 20))) $((1 << 20)) direct
check "write after recovery reads back" \
	test "$(dev_sha "$dev" $((b_off + (4 << 20))) $((1 << 20)) direct)" = \
	"$(grep '^[^ ]* after-recovery ' "$work/written" | cut -d' ' -f5)"
finish
