# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by the guest halves of tests/e2e/vmbus_*.sh. Every check prints
# one line, "ok: WHAT" or "not ok: WHAT", which the host turns into
# PASS/FAIL (vmbus_relay in lib-vmbus.bash); the script ends with "done".
# Guest and host meet through marker files in /run/hvsim (the run's shared
# directory): the guest prints "step NAME ARGS..." and creates g-NAME, the
# host does its part and creates h-NAME.

# shellcheck source=tests/e2e/guest/guest-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/guest-lib.sh"
bus=/sys/bus/vmbus
# shellcheck disable=SC2034 # read by the scripts that source this
CLASS_HEARTBEAT=57164f39-9115-4e78-ab55-382f3bd5422d
# shellcheck disable=SC2034 # read by the scripts that source this
CLASS_SHUTDOWN=0e0b6031-5213-4934-818b-38d90ced39db
# shellcheck disable=SC2034 # read by the scripts that source this
CLASS_SCSI=ba6163d9-04a1-4d29-b605-72e2ffb1dc7f
# shellcheck disable=SC2034 # read by the scripts that source this
CLASS_TIMESYNC=9527e630-d0ae-497b-adce-e80ab0175caf

info "kernel $(uname -r), $(nproc) CPUs"

# step NAME [ARGS...]: hand over to the host (ARGS in the marker file) and
# wait (up to 300 s) until it is done; what it wrote is in STEP_REPLY.
# False if it never answers.
step() {
	local name=$1 i
	STEP_REPLY=
	echo "step $*"
	shift
	printf '%s\n' "$*" >"$run/.g-$name" && mv -f "$run/.g-$name" "$run/g-$name"
	for ((i = 0; i < 3000; i++)); do
		if [[ -e $run/h-$name ]]; then
			# shellcheck disable=SC2034 # read by the scripts that source this
			STEP_REPLY=$(<"$run/h-$name")
			return 0
		fi
		sleep 0.1
	done
	not_ok "the host never finished step $name"
	return 1
}

offers_delivered() {
	local v=
	{ read -r v <"$bus/offers_delivered"; } 2>/dev/null
	[[ $v == 1 ]]
}

# settle: the bus is up, its offers are in and udev is done with them.
settle() {
	wait_for 60 offers_delivered && udevadm settle --timeout=60
}

# unload_stack: every module on the bus, then the bus (viridian_hv stays).
unload_stack() {
	local mods=() m
	for m in $(lsmod | awk '$1 ~ /^viridian_/ && $1 != "viridian_vmbus" && $1 != "viridian_hv" {print $1}'); do
		mods+=("$m")
	done
	rmmod "${mods[@]}" viridian_vmbus
}

# devices_of CLASS: the devices of that class GUID, one per line.
devices_of() {
	local dev
	for dev in "$bus"/devices/*; do
		[[ -e $dev/class_id ]] || continue
		[[ $(<"$dev/class_id") == "{$1}" ]] && basename "$dev"
	done
}

bound() {
	[[ -L $bus/devices/$1/driver ]]
}

driver_of() {
	basename "$(readlink "$bus/devices/$1/driver" 2>/dev/null)" 2>/dev/null
}

relid_of() {
	cat "$bus/devices/$1/id" 2>/dev/null
}

# chan_attr DEV ATTR: an attribute of the device's primary channel.
chan_attr() {
	local relid
	relid=$(relid_of "$1") || return 1
	cat "$bus/devices/$1/channels/$relid/$2" 2>/dev/null
}

# counter_grows DEV ATTR BY SECONDS: the primary channel's counter grows by
# at least BY within SECONDS.
counter_grows() {
	local dev=$1 attr=$2 by=$3 limit=$4 start now i
	start=$(chan_attr "$dev" "$attr") || return 1
	for ((i = 0; i < limit * 10; i++)); do
		now=$(chan_attr "$dev" "$attr") || return 1
		((now >= start + by)) && return 0
		sleep 0.1
	done
	return 1
}

# heartbeat_flows DEV: the host's heartbeats arrive (interrupts) and the
# guest answers them (signals to the host) on DEV's channel.
heartbeat_flows() {
	counter_grows "$1" interrupts 2 20 && counter_grows "$1" events 2 20
}

# Kernel messages since the last call of dmesg_mark.
dmesg_mark() {
	DMESG_LINES=$(dmesg | wc -l)
}
dmesg_new() {
	dmesg | tail -n +$((${DMESG_LINES:-0} + 1))
}

# no_kernel_warning WHAT: not ok if the kernel warned since dmesg_mark.
KERNEL_BAD='WARNING:|BUG:|Oops|Call Trace|general protection fault|refcount_t:|list_(add|del) corruption'
no_kernel_warning() {
	local bad
	bad=$(dmesg_new | grep -E -m 3 "$KERNEL_BAD")
	if [[ -n $bad ]]; then
		not_ok "$1: kernel warning: $bad"
	else
		ok "$1: no kernel warning"
	fi
}

# disk_of CTRL: the block device (sdX) of the SCSI controller's first disk.
disk_of() {
	local b
	for b in "$bus"/devices/"$1"/host*/target*/*/block/*; do
		[[ -e $b ]] || continue
		basename "$b"
		return 0
	done
	return 1
}

# channels_of DEV: the relids of its channels (the primary and any
# sub-channels), from channels/.
channels_of() {
	local c
	for c in "$bus"/devices/"$1"/channels/*; do
		[[ -e $c/cpu ]] && basename "$c"
	done
}

# interrupts_of DEV: host-to-guest signals over all its channels.
interrupts_of() {
	local r n=0
	for r in $(channels_of "$1"); do
		n=$((n + $(cat "$bus/devices/$1/channels/$r/interrupts" 2>/dev/null || echo 0)))
	done
	echo "$n"
}

# reload_bus VERSION: the stack unloaded and viridian_vmbus loaded with
# max_version=VERSION, settled.
reload_bus() {
	local err
	if ! err=$(unload_stack 2>&1); then
		not_ok "$1: unloading the stack: $err"
		return 1
	fi
	if ! err=$(modprobe viridian_vmbus max_version="$1" 2>&1); then
		not_ok "$1: modprobe viridian_vmbus max_version=$1: $err"
		return 1
	fi
	if ! settle; then
		not_ok "$1: the bus did not settle"
		return 1
	fi
	check "$1: /sys/bus/vmbus/version reads $1" test "$(cat "$bus/version")" = "$1"
}

# rw_check DISK MIB: MIB MiB of random data written at 1 MiB with O_DIRECT
# and read back the same.
rw_check() {
	local dev=/dev/$1 mib=$2 want got
	head -c $((mib << 20)) /dev/urandom >/tmp/rw-data || return 1
	want=$(sha256sum </tmp/rw-data | cut -d' ' -f1)
	dd if=/tmp/rw-data of="$dev" bs=1M seek=1 oflag=direct conv=notrunc status=none || return 1
	got=$(dd if="$dev" bs=1M skip=1 count="$mib" iflag=direct status=none | sha256sum | cut -d' ' -f1)
	rm -f /tmp/rw-data
	[[ $got == "$want" ]]
}
