# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Host-side helpers of the storage tests (tests/e2e/storage_*.sh), sourced
# after lib.sh. Not a test itself: tests/run only runs *.sh.
#
# The guest half of each test is a script in tests/e2e/guest/ that sources
# guest/storage-lib.sh. It reports every check as a line "ok: WHAT" or
# "not ok: WHAT" and ends with "done"; storage_relay turns those lines into
# PASS/FAIL. Guest and host meet through marker files in the run's shared
# directory (the guest's /run/hvsim): the guest creates "g-NAME" and waits
# for "h-NAME", which the host creates once it has done its part.

# A seed per run, printed, so that a failure with random offsets can be
# replayed with STORAGE_SEED=N.
storage_seed() {
	local seed=${STORAGE_SEED:-$(((RANDOM << 15) | RANDOM))}
	RANDOM=$seed
	echo "random seed $seed (replay with STORAGE_SEED=$seed)"
}

# rand_below N: a pseudo-random integer in [0, N), N up to 2^30.
rand_below() {
	echo $((((RANDOM << 15) | RANDOM) % $1))
}

# The directory the guest sees as /run/hvsim.
shared_dir() {
	echo "$XDG_RUNTIME_DIR/hvsim/$(run_name "$1")/guest"
}

# host_mark TAG NAME: tell the guest to go on past its wait for NAME.
host_mark() {
	: >"$(shared_dir "$1")/h-$2"
}

# wait_guest_mark TAG NAME SECONDS: until the guest has created g-NAME;
# false on timeout or when the run ended first.
wait_guest_mark() {
	local tag=$1 name=$2 limit=$3 f i
	f=$(shared_dir "$tag")/g-$name
	for ((i = 0; i < limit * 10; i++)); do
		[[ -e $f ]] && return 0
		[[ -n ${E2E_PID[$tag]:-} ]] && ! kill -0 "${E2E_PID[$tag]}" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# ctl_ok TAG WHAT COMMAND...: run `hvsim ctl` on TAG's guest; PASS or FAIL
# by its status, with its reply, which is also left in $reply.
ctl_ok() {
	local tag=$1 what=$2
	shift 2
	if reply=$(hvsim_ctl "$tag" "$@" 2>&1); then
		pass "$what: hvsim ctl $*${reply:+ -> $(echo "$reply" | tr '\n' ' ')}"
		return 0
	fi
	fail "$what: hvsim ctl $* failed: $reply"
	return 1
}

# Fill a byte range of an image with random data (the file keeps its size
# unless the range goes past the end).
img_fill_random() {
	local img=$1 off=$2 len=$3
	head -c "$len" /dev/urandom |
		dd of="$img" bs=1M seek="$off" oflag=seek_bytes conv=notrunc \
			iflag=fullblock status=none
}

# SHA-256 of a byte range of an image.
img_range_sha() {
	local img=$1 off=$2 len=$3
	dd if="$img" bs=1M skip="$off" count="$len" iflag=skip_bytes,count_bytes \
		status=none | sha256sum | cut -d' ' -f1
}

# Blocks the image really occupies, in KiB (st_blocks / 2).
img_kib_used() {
	echo $(($(stat -c %b "$1") * $(stat -c %B "$1") / 1024))
}

# storage_relay TAG: the guest's "ok:" / "not ok:" lines as PASS/FAIL, and
# a FAIL if it did not get to its final "done".
storage_relay() {
	local tag=$1 line n=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		'ok: '*) pass "guest: ${line#ok: }"; n=$((n + 1)) ;;
		'not ok: '*) fail "guest: ${line#not ok: }"; n=$((n + 1)) ;;
		esac
	done <"$(out "$tag")"
	if ! grep -q '^done' "$(out "$tag")"; then
		fail "$tag: the guest script did not finish ($n checks reported; hvsim exit ${HVSIM_RC:-?})"
		echo "  --- guest output ($tag), last lines:"
		tail -n 20 "$(out "$tag")" | sed 's/^/    /'
		show_run "$tag"
	fi
}

# guest_value TAG KEY: the last "KEY VALUE..." line the guest printed.
guest_value() {
	local line
	line=$(grep -F "$2 " "$(out "$1")" | grep "^$2 " | tail -n 1 | tr -d '\r')
	echo "${line#"$2 "}"
}

# --- planned I/O at random offsets (guest side: run_io_items) -------------

# For the tests' sizes.
# shellcheck disable=SC2034
MiB=$((1 << 20))
PLAN_ITEMS=()
declare -A PLAN_IMG=() PLAN_OFF=() PLAN_LEN=() PLAN_SHA=() PLAN_KIND=() PLAN_MODES=()

# sector_in LO HI LEN [ALIGN]: a random offset, a multiple of ALIGN (512),
# with [off, off + LEN) inside [LO, HI).
sector_in() {
	local align=${4:-512}
	echo $(($1 + $(rand_below $((($2 - $1 - $3) / align + 1))) * align))
}

# byte_in LO HI LEN: the same at any byte offset.
byte_in() {
	echo $(($1 + $(rand_below $(($2 - $1 - $3 + 1)))))
}

# plan_read IMG NAME OFF LEN [unalignedN]: fill the range with random
# data now; the guest reads it (also into a buffer N bytes into a page).
plan_read() {
	PLAN_KIND[$2]=R
	PLAN_IMG[$2]=$1
	PLAN_OFF[$2]=$3
	PLAN_LEN[$2]=$4
	PLAN_MODES[$2]="direct buffered${5:+ $5}"
	img_fill_random "$1" "$3" "$4"
	PLAN_SHA[$2]=$(img_range_sha "$1" "$3" "$4")
	PLAN_ITEMS+=("R:$2:$3:$4${5:+:$5}")
}

# plan_write IMG KIND NAME OFF LEN [MODE]: the guest writes the range
# (KIND W or P, MODE direct, unalignedN or buffered). The image must hold zeros around
# it, so that a write spilling over shows.
plan_write() {
	PLAN_KIND[$3]=W
	PLAN_IMG[$3]=$1
	PLAN_OFF[$3]=$4
	PLAN_LEN[$3]=$5
	PLAN_ITEMS+=("$2:$3:$4:$5:${6:-direct}")
}

# is_zero IMG OFF LEN: the range holds only zero bytes.
is_zero() {
	cmp -s -n "$3" <(dd if="$1" bs=64K skip="$2" count="$3" \
		iflag=skip_bytes,count_bytes status=none) /dev/zero
}

# verify_plan TAG: PASS/FAIL per planned range: what the guest read equals
# what the host wrote; what the guest wrote is in the image, and the 4 KiB
# either side still zero.
verify_plan() {
	local tag=$1 name img off len got want mode size before after
	for name in $(printf '%s\n' "${!PLAN_KIND[@]}" | sort); do
		img=${PLAN_IMG[$name]} off=${PLAN_OFF[$name]} len=${PLAN_LEN[$name]}
		if [[ ${PLAN_KIND[$name]} == R ]]; then
			for mode in ${PLAN_MODES[$name]}; do
				got=$(guest_value "$tag" "read $name $mode")
				if [[ $got == "${PLAN_SHA[$name]}" ]]; then
					pass "$name ($len bytes at $off, host-written): guest $mode read identical"
				else
					fail "$name ($len bytes at $off, host-written): guest $mode read '${got:-nothing}', host wrote ${PLAN_SHA[$name]}"
				fi
			done
			continue
		fi
		want=$(guest_value "$tag" "wrote $name")
		got=$(img_range_sha "$img" "$off" "$len")
		if [[ -z $want ]]; then
			fail "$name: the guest reported no write"
		elif [[ $got == "$want" ]]; then
			pass "$name ($len bytes at $off, guest-written): host image identical"
		else
			fail "$name ($len bytes at $off, guest-written): host image has $got, guest wrote $want"
		fi
		size=$(stat -c %s "$img")
		before=$((off < 4096 ? off : 4096))
		after=$((size - off - len < 4096 ? size - off - len : 4096))
		if is_zero "$img" $((off - before)) "$before" &&
		   is_zero "$img" $((off + len)) "$after"; then
			pass "$name: the 4 KiB either side untouched"
		else
			fail "$name: bytes next to the range changed in the image"
		fi
	done
}

# --- logs that betray a protocol problem even when the data came through --

# What viridian_storvsc only says when the host and it disagree, or when it
# lost track of a request.
STORVSC_LOG_BAD='was not ours to revoke|short answer|bad answer|malformed SRB completion|ignoring unsolicited|ignoring a completion with unknown ID|ignoring a [0-9]+-byte packet|dropped an oversized|receive failed|not using sub-channel|failed to open|sub-channel [0-9]+ has no device|scatterlist not page-contiguous|sending an SRB failed|bus reset failed|still outstanding after the reset|asking for [0-9]+ sub-channels failed'

# check_storage_logs TAG: FAIL on such lines in the console, and on the
# storage VSP's complaints about the guest's packets in hvsim's stderr.
check_storage_logs() {
	local tag=$1 log
	log=$(console "$tag")
	if grep -Eq "$STORVSC_LOG_BAD" "$log"; then
		fail "$tag: viridian_storvsc reported a protocol problem:"
		grep -E -m 5 "$STORVSC_LOG_BAD" "$log" | sed 's/^/    /'
	else
		pass "$tag: no protocol complaint from viridian_storvsc on the console"
	fi
	if grep -Eq 'storvsp|scsi ' "$(err "$tag")"; then
		fail "$tag: the storage VSP complained about the guest:"
		grep -E -m 5 'storvsp|scsi ' "$(err "$tag")" | sed 's/^/    /'
	else
		pass "$tag: no complaint from the storage VSP in hvsim's log"
	fi
}
