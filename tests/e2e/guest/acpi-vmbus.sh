#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/acpi_vmbus.sh: the ACPI VMBus device as a Hyper-V
# VM has it, and Linux's own Hyper-V modules kept out.
# shellcheck source=tests/e2e/guest/vmbus-lib.sh
source "$(dirname "$0")/vmbus-lib.sh"
acpi_dev=/sys/bus/platform/devices/VMBUS:00

device_list() {
	find "$bus/devices" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}
# shellcheck disable=SC2317 # polled through wait_for
bus_settled() {
	[[ $(cat "$bus/offers_delivered" 2>/dev/null) == 1 ]]
}
# shellcheck disable=SC2317 # polled through wait_for
all_bound() {
	local dev
	for dev in "$bus"/devices/*; do
		[[ -L $dev/driver ]] || return 1
	done
}
loaded() { grep -q "^$1 " /proc/modules; }

# --- bound through ACPI ---------------------------------------------------------
check "the ACPI VMBus device is there ($acpi_dev)" test -e "$acpi_dev"
check "its modalias is acpi:VMBUS: ($(cat "$acpi_dev/modalias" 2>/dev/null))" \
	test "$(cat "$acpi_dev/modalias" 2>/dev/null)" = "acpi:VMBUS:"
check "viridian_vmbus is its driver ($(readlink "$acpi_dev/driver" 2>/dev/null))" \
	test "$(basename "$(readlink "$acpi_dev/driver" 2>/dev/null)")" = viridian_vmbus
mmio=$(tr '\n' ' ' <"$acpi_dev/mmio" 2>/dev/null)
check "the VMOD device's MMIO ranges were found ($mmio)" \
	test "$mmio" = "0xf8000000-0xfbffffff 0x1000000000-0x1fffffffff "
check "viridian_hv drives the host-sim back end" \
	test "$(cat /sys/module/viridian_hv/parameters/backend)" = hvsim

# --- autoload from the ACPI alias alone -----------------------------------------
before=$(device_list)
info "devices: $before"
mods=()
for m in $(lsmod | awk '$1 ~ /^viridian_/ && $1 != "viridian_vmbus" && $1 != "viridian_hv" {print $1}'); do
	mods+=("$m")
done
if err=$(rmmod "${mods[@]}" viridian_vmbus 2>&1); then
	ok "viridian_vmbus and its drivers unloaded (${mods[*]})"
else
	not_ok "rmmod ${mods[*]} viridian_vmbus: $err"
fi
dmesg_mark
udevadm trigger --action=add "$acpi_dev"
udevadm settle --timeout=30
check "udev loaded viridian_vmbus for the ACPI device, with no modprobe of ours" \
	wait_for 30 loaded viridian_vmbus
check "the bus came back with every offer" wait_for 30 bus_settled
udevadm settle --timeout=30
check "the same devices are back ($(device_list))" test "$(device_list)" = "$before"
check "every device has its driver again" wait_for 30 all_bound
no_kernel_warning "autoload from the ACPI alias"

# --- the in-kernel stack stays out ------------------------------------------------
dmesg_mark
if err=$(modprobe hv_vmbus 2>&1); then
	not_ok "modprobe hv_vmbus went through"
else
	check "modprobe hv_vmbus refused by the gate: $err" \
		grep -q 'hv_vmbus not loaded: .*(hvsim back end)' <<<"$err"
fi
if err=$(modprobe hv_storvsc 2>&1); then
	not_ok "modprobe hv_storvsc went through"
else
	# Refused at hv_storvsc itself, or at hv_vmbus, the dependency loaded first.
	check "modprobe hv_storvsc refused: $err" grep -Eq '(hv_storvsc|hv_vmbus) not loaded' <<<"$err"
fi
if err=$(modprobe pci_hyperv 2>&1); then
	not_ok "modprobe pci_hyperv went through"
else
	check "pci_hyperv refused, since it would pull hv_vmbus in: $err" \
		grep -q 'hv_vmbus not loaded' <<<"$err"
fi
if err=$(modprobe --ignore-install hv_vmbus 2>&1); then
	not_ok "modprobe --ignore-install hv_vmbus went through"
else
	info "modprobe --ignore-install hv_vmbus: $err"
	check "hv_vmbus refused in the kernel too, past modprobe.d" \
		grep -q 'viridian_hv: hv_vmbus refused: the hvsim back end of viridian_hv owns the SynIC' \
		<(dmesg_new)
fi
# An AF_VSOCK socket asks for net-pf-40, which hv_sock answers too.
if err=$(python3 -c 'import socket; socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM).close()' 2>&1); then
	ok "an AF_VSOCK socket opens (vsock loaded without hv_sock)"
else
	not_ok "an AF_VSOCK socket does not open: $err"
fi
for m in hv_vmbus hv_storvsc pci_hyperv hv_sock hv_utils; do
	check "$m is not loaded" bash -c "! grep -q '^$m ' /proc/modules"
done
check "the bus is still ours ($(device_list))" test "$(device_list)" = "$before"
no_kernel_warning "the in-kernel stack refused"
echo "done"
