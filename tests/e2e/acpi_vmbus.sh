#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The path a real Hyper-V VM takes, as far as stock QEMU can show it:
#   - host-sim describes the ACPI VMBus device (an SSDT): viridian_vmbus binds
#     it as a platform driver, finds its MMIO ranges, and udev loads it from
#     the ACPI alias alone;
#   - Linux's own Hyper-V modules stay out while ours run: by name, as a
#     dependency (modprobe.d's gate) and past modprobe.d (viridian_hv's
#     module notifier); AF_VSOCK still works without hv_sock;
#   - without the ACPI device (--no-acpi-vmbus) the bus starts on the
#     host-sim PCI device alone.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-vmbus.bash
source "$(dirname "$0")/lib-vmbus.bash"
e2e_init acpi_vmbus

hvsim_exec acpi --exec "bash $E2E_GUEST/acpi-vmbus.sh"
[[ $HVSIM_RC -eq 0 ]] || fail "hvsim run exited $HVSIM_RC"
vmbus_relay acpi
check_console acpi

cmd='dmesg | grep -c "no ACPI VMBus device: starting on the host-sim device"; '
cmd+='ls /sys/bus/vmbus/devices | wc -l; ls /sys/bus/platform/devices | grep -c "^VMBUS:" || true'
hvsim_exec noacpi --no-acpi-vmbus --exec "$cmd"
mapfile -t got <"$(out noacpi)"
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run --no-acpi-vmbus exited $HVSIM_RC"
	show_run noacpi
else
	check "without the ACPI device the bus says it starts on the PCI device" test "${got[0]:-0}" = 1
	check "without the ACPI device the devices are there (${got[1]:-0})" test "${got[1]:-0}" -ge 3
	check "with --no-acpi-vmbus the guest has no VMBUS device" test "${got[2]:-1}" = 0
fi
check_console noacpi
e2e_finish
