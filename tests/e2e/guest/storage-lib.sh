# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by the storage tests' guest scripts. Every check prints one line,
# "ok: WHAT" or "not ok: WHAT", which the host turns into PASS/FAIL; the
# script ends with "done". Marker files in /run/hvsim (shared with the
# host): the guest creates g-NAME, the host answers with h-NAME.

# shellcheck source=tests/e2e/guest/guest-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/guest-lib.sh"
guest_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=/run/storage-test
mkdir -p "$work"

mark() { : >"$run/g-$1"; }

# wait_host NAME SECONDS: until the host created h-NAME.
wait_host() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -e $run/h-$1 ]] && return 0
		sleep 0.1
	done
	return 1
}

# The SCSI disks (sdX), in name order.
scsi_disks() {
	local d
	for d in /sys/block/sd*; do
		[[ -e $d ]] && basename "$d"
	done
}

# disk_by_size SECTORS: the sdX of that many 512-byte sectors, if any.
disk_by_size() {
	local d
	for d in $(scsi_disks); do
		if [[ $(cat "/sys/block/$d/size" 2>/dev/null) == "$1" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# dev_sha DEV OFF LEN [direct]: SHA-256 of a byte range of a device; with
# direct, O_DIRECT reads of LEN bytes each up to 8 MiB, 4 MiB beyond (OFF
# and LEN block aligned).
dev_sha() {
	local dev=$1 off=$2 len=$3 bs=$3
	if [[ ${4:-} == direct ]]; then
		((bs <= 8 << 20)) || bs=$((4 << 20))
		dd if="$dev" bs="$bs" skip="$off" count="$len" \
			iflag=direct,skip_bytes,count_bytes,fullblock \
			status=none | sha256sum | cut -d' ' -f1
	else
		dd if="$dev" bs=64K skip="$off" count="$len" iflag=skip_bytes,count_bytes \
			status=none | sha256sum | cut -d' ' -f1
	fi
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# The kernel log since the mark, for failures worth explaining.
dmesg_mark() {
	dmesg_lines=$(dmesg | wc -l)
}

dmesg_since() {
	dmesg | tail -n +"$((${dmesg_lines:-0} + 1))"
}

# write_range DEV NAME OFF LEN MODE: LEN random bytes at byte OFF, MODE
# direct (one O_DIRECT write of LEN bytes), unalignedN (the same from a
# buffer N bytes into a page) or buffered (1 MiB writes through the page
# cache, then fsync). Prints "wrote NAME SHA" and
# remembers the range in $work/written.
write_range() {
	local dev=$1 name=$2 off=$3 len=$4 mode=$5 src=$work/src-$2 sha
	head -c "$len" /dev/urandom >"$src"
	sha=$(sha256sum <"$src" | cut -d' ' -f1)
	if [[ $mode == direct ]]; then
		dd if="$src" of="$dev" bs="$len" count=1 seek="$off" \
			oflag=direct,seek_bytes conv=notrunc status=none
	elif [[ $mode == unaligned* ]]; then
		python3 "$guest_dir/odirect-unaligned.py" write "$dev" "$off" "$src" \
			"${mode#unaligned}"
	else
		dd if="$src" of="$dev" bs=1M seek="$off" oflag=seek_bytes \
			conv=notrunc,fsync status=none
	fi || { not_ok "$name: $mode write of $len bytes at $off failed"; rm -f "$src"; return 1; }
	echo "wrote $name $sha"
	echo "$dev $name $off $len $sha" >>"$work/written"
	rm -f "$src"
}

# run_io_items DEV ITEM...: the items the host planned, in order:
#   R:NAME:OFF:LEN[:unalignedN]  read a range the host filled before
#                        boot, with O_DIRECT and through the page cache
#                        (and into a buffer N bytes into a page):
#                        "read NAME direct|buffered|unalignedN SHA"
#   W:NAME:OFF:LEN:MODE  write_range
#   P:NAME:OFF:LEN       write_range direct, all P items at the same time
# then reads every written range back past the page cache.
run_io_items() {
	local dev=$1 item kind name off len mode pids=() pid all_ok=1 bad=0 sha got lbs
	shift
	lbs=$(blockdev --getss "$dev")
	: >"$work/written"
	for item in "$@"; do
		IFS=: read -r kind name off len mode <<<"$item"
		case $kind in
		R)
			echo "read $name direct $(dev_sha "$dev" "$off" "$len" direct)"
			drop_caches
			echo "read $name buffered $(dev_sha "$dev" "$off" "$len")"
			# MODE unalignedN: once more into a buffer N bytes into a page.
			[[ $mode == unaligned* ]] &&
				echo "read $name $mode $(python3 "$guest_dir/odirect-unaligned.py" \
					read "$dev" "$off" "$len" "${mode#unaligned}")"
			;;
		W)
			write_range "$dev" "$name" "$off" "$len" "$mode"
			;;
		P)
			write_range "$dev" "$name" "$off" "$len" direct &
			pids+=($!)
			;;
		esac
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || all_ok=
	done
	[[ ${#pids[@]} -eq 0 ]] ||
		check "${#pids[@]} concurrent O_DIRECT writes to $dev succeeded" test -n "$all_ok"

	drop_caches
	while read -r _ name off len sha; do
		if (((off | len) % lbs == 0)); then
			got=$(dev_sha "$dev" "$off" "$len" direct)
		else
			got=$(dev_sha "$dev" "$off" "$len")
		fi
		if [[ $got != "$sha" ]]; then
			not_ok "$name: reads back differently in the guest ($off+$len)"
			bad=1
		fi
	done <"$work/written"
	[[ $bad -eq 0 && -s $work/written ]] &&
		ok "$(wc -l <"$work/written") ranges written to $dev read back identically in the guest"
	return 0
}
