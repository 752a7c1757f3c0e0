#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/storage_fs.sh: two disks with 4096-byte sectors.
#
# usage: storage-fs.sh RAW_SECTORS FS_SECTORS DISCARD_OFF DISCARD_LEN ITEM...
#   RAW: raw I/O (run_io_items with the ITEMs), then DISCARD_LEN random
#        bytes at DISCARD_OFF, discarded later with blkdiscard;
#   FS:  ext4 made, mounted, filled (keep.bin, big.bin, small files).
# Then "g-written"; after the host's "h-measured": big.bin removed and
# fstrim, blkdiscard on RAW; umount, fsck, files checked again.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"

raw_sectors=$1 fs_sectors=$2 discard_off=$3 discard_len=$4
shift 4
raw=$(disk_by_size "$raw_sectors")
fs=$(disk_by_size "$fs_sectors")
check "raw disk of $raw_sectors sectors present (${raw:-none}; disks: $(scsi_disks | xargs))" \
	test -n "$raw"
check "file-system disk of $fs_sectors sectors present (${fs:-none})" test -n "$fs"
[[ -n $raw && -n $fs ]] || { echo "done"; exit 0; }

# 4096-byte sectors, as the host said.
for d in "$raw" "$fs"; do
	lbs=$(cat /sys/block/"$d"/queue/logical_block_size)
	pbs=$(cat /sys/block/"$d"/queue/physical_block_size)
	check "$d: logical block size $lbs (4096 expected)" test "$lbs" = 4096
	check "$d: physical block size $pbs (4096 expected)" test "$pbs" = 4096
	check "$d: blockdev --getss $(blockdev --getss /dev/"$d")" test "$(blockdev --getss /dev/"$d")" = 4096
done
dgran=$(cat /sys/block/"$raw"/queue/discard_granularity)
dmax=$(cat /sys/block/"$raw"/queue/discard_max_bytes)
check "$raw: discard supported (granularity $dgran, max $dmax bytes)" test "$dmax" -gt 0
info "raw $raw, fs $fs, max_sectors_kb $(cat /sys/block/"$raw"/queue/max_sectors_kb)"

# A 512-byte O_DIRECT transfer is below the logical block: refused.
head -c 512 /dev/urandom >"$work/512"
if dd if="$work/512" of="/dev/$raw" bs=512 count=1 seek=8 oflag=direct conv=notrunc \
	status=none 2>"$work/err"; then
	not_ok "a 512-byte O_DIRECT write to a 4096-byte-sector disk succeeded"
else
	ok "512-byte O_DIRECT write refused on the 4096-byte-sector disk: $(head -n 1 "$work/err")"
fi

run_io_items "/dev/$raw" "$@"

# The areas discarded, zeroed (BLKZEROOUT: WRITE SAME) and punched (write
# zeroes with unmap: WRITE SAME with UNMAP) later: random data now.
write_range "/dev/$raw" discard-area "$discard_off" "$discard_len" direct
zero_off=$((discard_off + discard_len)) zero_len=$((4 << 20))
punch_off=$((zero_off + zero_len)) punch_len=$((4 << 20))
write_range "/dev/$raw" zero-area "$zero_off" "$zero_len" direct
write_range "/dev/$raw" punch-area "$punch_off" "$punch_len" direct
info "write_zeroes_max_bytes $(cat /sys/block/"$raw"/queue/write_zeroes_max_bytes), provisioning_mode $(cat /sys/block/"$raw"/device/scsi_disk/*/provisioning_mode), zeroing_mode $(cat /sys/block/"$raw"/device/scsi_disk/*/zeroing_mode 2>/dev/null)"

# The file system.
mnt=$work/mnt
mkdir -p "$mnt"
if ! mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "/dev/$fs" >"$work/mkfs" 2>&1; then
	not_ok "mkfs.ext4 /dev/$fs: $(tr '\n' ' ' <"$work/mkfs")"
	echo "done"
	exit 0
fi
ok "mkfs.ext4 /dev/$fs"
check "mount /dev/$fs" mount -t ext4 "/dev/$fs" "$mnt"
check "ext4 block size 4096" test "$(stat -f -c %S "$mnt")" = 4096
head -c 8M /dev/urandom >"$mnt/keep.bin"
head -c 48M /dev/urandom >"$mnt/big.bin"
mkdir -p "$mnt/small"
for ((i = 0; i < 60; i++)); do
	head -c $((RANDOM * 3 + i)) /dev/urandom >"$mnt/small/f$i"
done
sync
(cd "$mnt" && sha256sum keep.bin small/*) >"$work/sums"
echo "file keep.bin $(grep ' keep.bin$' "$work/sums" | cut -d' ' -f1)"
drop_caches
check "files read back after dropping caches" sh -c "cd '$mnt' && sha256sum -c --quiet '$work/sums'"
check "ext4 reports ~56 MiB used" test "$(df -k --output=used "$mnt" | tail -n 1)" -gt $((56 * 1024))

mark written
if ! wait_host measured 600; then
	not_ok "the host never measured the images (no h-measured in 600 s)"
	echo "done"
	exit 0
fi

# Discard: a deleted file's blocks through fstrim, and a raw range.
rm "$mnt/big.bin"
sync
if out=$(fstrim -v "$mnt" 2>&1); then
	ok "fstrim: $out"
else
	not_ok "fstrim failed: $out"
fi
if out=$(blkdiscard -o "$discard_off" -l "$discard_len" "/dev/$raw" 2>&1); then
	ok "blkdiscard of $discard_len bytes at $discard_off on /dev/$raw"
else
	not_ok "blkdiscard failed: $out"
fi
if out=$(blkdiscard -z -o "$zero_off" -l "$zero_len" "/dev/$raw" 2>&1); then
	ok "blkdiscard -z (zero out) of $zero_len bytes at $zero_off"
else
	not_ok "blkdiscard -z failed: $out"
fi
if out=$(fallocate -p -o "$punch_off" -l "$punch_len" "/dev/$raw" 2>&1); then
	ok "fallocate --punch-hole of $punch_len bytes at $punch_off on the block device"
else
	not_ok "fallocate --punch-hole failed: $out"
fi
drop_caches
# zeros OFF LEN: the range reads back as zeros past the page cache.
zeros() {
	cmp -s -n "$2" <(dd if="/dev/$raw" bs=1M skip="$1" count="$2" \
		iflag=direct,skip_bytes,count_bytes status=none) /dev/zero
}
check "the discarded range reads back as zeros" zeros "$discard_off" "$discard_len"
check "the zeroed range reads back as zeros" zeros "$zero_off" "$zero_len"
check "the punched range reads back as zeros" zeros "$punch_off" "$punch_len"

# Unmounted, checked, mounted again: everything still there.
check "umount" umount "$mnt"
if out=$(fsck.ext4 -f -n "/dev/$fs" 2>&1); then
	ok "fsck.ext4 -f -n clean"
else
	not_ok "fsck.ext4 -f -n: $(echo "$out" | tail -n 5 | tr '\n' ' ')"
fi
check "mount again read-only" mount -t ext4 -o ro "/dev/$fs" "$mnt"
check "keep.bin and small files intact after remount" \
	sh -c "cd '$mnt' && sha256sum -c --quiet '$work/sums'"
check "big.bin gone" test ! -e "$mnt/big.bin"
check "umount again" umount "$mnt"
check "devices still running" \
	test "$(cat /sys/block/"$raw"/device/state)/$(cat /sys/block/"$fs"/device/state)" = running/running
echo "done"
