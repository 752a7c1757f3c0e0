#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Injected faults (one boot):
#   - `disk fault N medium LBA COUNT`: only I/O touching those blocks fails,
#     with EIO (O_DIRECT and buffered); I/O around them returns the right
#     data, writes elsewhere land, the disk stays running; after `clear`
#     the blocks read again;
#   - `disk fault N stall 2500`: commands complete 2.5 s late, no reset;
#   - `stall 0` then `release` before the SCSI timeout: the held write
#     completes, no reset;
#   - `disk fault N stall 0` holds every command: with a 6 s SCSI timeout
#     the guest's error handling resets the bus, the host aborts what it
#     held and the reset ends the stall; the retried commands complete
#     with no further help from the host, nothing written before is lost,
#     and the disk keeps working;
#   - `disk fault N hang` stops the whole controller, resets included:
#     the same recovery once the host clears it.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init storage_faults
storage_seed

img=$E2E_TMP/faults.img
bytes=$((128 * MiB))
truncate -s "$bytes" "$img" || e2e_abort "cannot create $img"
fill_off=$((16 * MiB)) fill_len=$((32 * MiB))
img_fill_random "$img" "$fill_off" "$fill_len"
bad_count=8
bad_lba=$(($(sector_in $((24 * MiB)) $((40 * MiB)) $((bad_count * 512))) / 512))
bad_off=$((bad_lba * 512)) bad_len=$((bad_count * 512))
fill_end=$((fill_off + fill_len))

hvsim_start flt --disk "$img" \
	--exec "bash $E2E_GUEST/storage-faults.sh $((bytes / 512)) $bad_lba $bad_count $fill_off $fill_len"

# console_count_above PATTERN N SECONDS: until more than N console lines
# match.
console_count_above() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		(($(grep -c "$1" "$(console flt)") > $2)) && return 0
		kill -0 "${E2E_PID[flt]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# held_phase PHASE NEXT WHAT CTL...: once the guest is ready, hold its
# commands with CTL and wait for one more bus reset on the console. With
# NEXT, the reset alone must let the guest go on to mark NEXT; without, the
# host clears the fault once it sees the reset. Either way the fault is
# cleared in the end, so that the guest can finish.
held_phase() {
	local phase=$1 next=$2 what=$3 resets start
	shift 3
	wait_guest_mark flt "$phase-ready" 600 || return
	resets=$(grep -c 'resetting the bus' "$(console flt)")
	ctl_ok flt "$what" "$@"
	host_mark flt "$phase"
	start=$SECONDS
	if console_count_above 'resetting the bus' "$resets" 300; then
		pass "$phase: the guest reset the bus $((SECONDS - start)) s after the commands were held"
	else
		fail "$phase: no bus reset on the console 300 s after the commands were held"
	fi
	if [[ -n $next ]]; then
		if wait_guest_mark flt "$next" 300; then
			pass "$phase: the guest recovered from the reset with no help from the host"
		else
			fail "$phase: the guest did not get past the reset on its own within 300 s"
		fi
	fi
	ctl_ok flt "$phase: clear" disk fault 0 clear
}

if ! wait_guest_mark flt booted 600; then
	fail "the guest never got ready"
else
	ctl_ok flt "medium error on LBA $bad_lba+$bad_count" disk fault 0 medium "$bad_lba" "$bad_count"
	host_mark flt medium
	if wait_guest_mark flt medium-checked 600; then
		ctl_ok flt "clear the medium error" disk fault 0 clear
		host_mark flt cleared
	fi
	if wait_guest_mark flt timed-ready 600; then
		ctl_ok flt "stall each command 2.5 s" disk fault 0 stall 2500
		host_mark flt timed
		wait_guest_mark flt timed-done 600
		ctl_ok flt "clear the timed stall" disk fault 0 clear
		host_mark flt timed-cleared
	fi
	if wait_guest_mark flt release-ready 600; then
		ctl_ok flt "hold every command" disk fault 0 stall 0
		host_mark flt release-stalled
		if wait_guest_mark flt release-issued 600; then
			ctl_ok flt "release the held commands" disk fault 0 release
			host_mark flt released
			wait_guest_mark flt release-done 600
		fi
		ctl_ok flt "clear the stall" disk fault 0 clear
		host_mark flt release-cleared
	fi
	held_phase stall hang-ready "stall every command until released or reset" disk fault 0 stall 0
	held_phase hang '' "hang the controller" disk fault 0 hang
fi
hvsim_wait flt 900
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run exited $HVSIM_RC"
	show_run flt
fi
storage_relay flt
grep '^info: ' "$(out flt)" | tr -d '\r'

# What the guest read where it could, against the image.
expect_read() {	# NAME OFF LEN
	local got want
	got=$(guest_value flt "read $1")
	want=$(img_range_sha "$img" "$2" "$3")
	if [[ -n $got && $got == "$want" ]]; then
		pass "$1: guest read $3 bytes at $2 correctly"
	else
		fail "$1: guest read ${got:-nothing} for $3 bytes at $2, image has $want"
	fi
}
expect_read before-1m $((bad_off - MiB)) "$MiB"
expect_read after-1m $((bad_off + bad_len)) "$MiB"
expect_read after-2m-buffered $(((bad_off + bad_len + 4095) / 4096 * 4096)) $((2 * MiB))
expect_read first-1m "$fill_off" "$MiB"
expect_read bad-after-clear "$bad_off" "$bad_len"
expect_read first-1m-after-stall "$fill_off" "$MiB"
expect_read first-1m-after-hang "$fill_off" "$MiB"
for name in bad-exact bad-1m bad-buffered; do
	if grep -q "^read $name " "$(out flt)"; then
		fail "$name: the guest read data through the medium error"
	fi
done

# What the guest wrote, in the image.
plan_write "$img" W medium-time-write $((fill_end + 4 * MiB)) "$MiB"
plan_write "$img" W timed-write $((fill_end + 6 * MiB)) "$MiB"
plan_write "$img" W release-write $((fill_end + 7 * MiB + 64 * 1024)) $((512 * 1024))
for phase in stall:8 hang:24; do
	base=$((fill_end + ${phase#*:} * MiB))
	plan_write "$img" W "${phase%:*}-before" "$base" $((4 * MiB))
	plan_write "$img" W "${phase%:*}-during" $((base + 8 * MiB)) $((2 * MiB))
	plan_write "$img" W "${phase%:*}-after" $((base + 12 * MiB)) "$MiB"
done
verify_plan flt

check_storage_logs flt
check_console flt
e2e_finish
