/*
 * SPDX-License-Identifier: GPL-2.0 OR MIT
 *
 * The ACPI VMBus device as Hyper-V describes it, for host-sim's guests
 * (QEMU -acpitable): a module device (VMOD, as on a Generation 2 VM) whose
 * _CRS gives the MMIO ranges VMBus devices may use, and below it the VMBus
 * device itself, which the guest's VMBus driver binds and autoloads from
 * (modalias acpi:VMBUS:).
 *
 * The ranges are what a Generation 2 VM gets, scaled to QEMU's pc machine:
 * one below 4 GiB, above guest RAM (host-sim gives at most 3 GiB) and
 * clear of the BARs SeaBIOS places from 0xfc000000 up, and a large one far
 * above any RAM. Nothing claims them yet; they are only described.
 *
 * The _HID is not of the EISA or ACPI form, as on Hyper-V, so it is a
 * method: iasl rejects such a string in a Name().
 */
DefinitionBlock ("", "SSDT", 2, "VIRIDN", "VMBUS", 1)
{
    Scope (\_SB)
    {
        Device (VMOD)
        {
            Name (_HID, "ACPI0004")
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x0, 0xF8000000, 0xFBFFFFFF, 0x0, 0x04000000)
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x0, 0x1000000000, 0x1FFFFFFFFF, 0x0, 0x1000000000)
            })

            Device (VMBS)
            {
                Method (_HID, 0, NotSerialized)
                {
                    Return ("VMBUS")
                }
                Name (_UID, Zero)
                Name (_STA, 0x0F)
            }
        }
    }
}
