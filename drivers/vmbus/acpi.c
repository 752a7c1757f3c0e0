// SPDX-License-Identifier: GPL-2.0
/*
 * The ACPI VMBus device: what its firmware description tells the guest.
 *
 * Hyper-V describes the MMIO space that VMBus devices may use (synthetic
 * video's frame buffer, PCI pass-through BARs) in the _CRS of the VMBus
 * device or of one of its ancestors (the VMOD module device on Gen2, the
 * PCI root on Gen1). It is recorded here for the drivers that will carve
 * it up, and shown in the device's "mmio" attribute.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/acpi.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>

#include "vmbus_private.h"

#define VMBUS_MAX_MMIO_RANGES	8

struct vmbus_mmio_range {
	u64 start;
	u64 end;	/* inclusive */
};

static struct vmbus_mmio_range vmbus_mmio[VMBUS_MAX_MMIO_RANGES];
static unsigned int vmbus_nr_mmio;

static acpi_status vmbus_acpi_collect(struct acpi_resource *res, void *ctx)
{
	struct acpi_resource_address64 addr;
	unsigned int *skipped = ctx;

	if (ACPI_FAILURE(acpi_resource_to_address64(res, &addr)))
		return AE_OK;	/* an IRQ, an end tag: nothing of ours */
	if (addr.resource_type != ACPI_MEMORY_RANGE || !addr.address.address_length)
		return AE_OK;
	if (addr.address.minimum + addr.address.address_length - 1 < addr.address.minimum) {
		(*skipped)++;	/* wraps past the top: firmware nonsense */
		return AE_OK;
	}
	if (vmbus_nr_mmio == ARRAY_SIZE(vmbus_mmio)) {
		(*skipped)++;
		return AE_OK;
	}
	vmbus_mmio[vmbus_nr_mmio].start = addr.address.minimum;
	vmbus_mmio[vmbus_nr_mmio].end = addr.address.minimum + addr.address.address_length - 1;
	vmbus_nr_mmio++;
	return AE_OK;
}

/*
 * Walks the device, then its ancestors, and keeps the first that has
 * memory ranges, as Linux's vmbus_drv does. A device with none anywhere is
 * still usable (nothing needs MMIO until video or PCI pass-through).
 */
void vmbus_acpi_find_mmio(struct device *dev)
{
	acpi_handle handle = ACPI_HANDLE(dev), parent;
	unsigned int skipped = 0;
	acpi_status status;

	vmbus_nr_mmio = 0;
	while (handle && handle != ACPI_ROOT_OBJECT) {
		status = acpi_walk_resources(handle, METHOD_NAME__CRS, vmbus_acpi_collect,
					     &skipped);
		if (ACPI_SUCCESS(status) && vmbus_nr_mmio)
			break;
		if (ACPI_FAILURE(acpi_get_parent(handle, &parent)))
			break;
		handle = parent;
	}
	if (skipped)
		dev_warn(dev, "%u MMIO ranges of the firmware ignored (past %u, or wrapping)\n",
			 skipped, VMBUS_MAX_MMIO_RANGES);
	dev_info(dev, "ACPI VMBus device with %u MMIO ranges\n", vmbus_nr_mmio);
}

static ssize_t mmio_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < vmbus_nr_mmio; i++)
		len += sysfs_emit_at(buf, len, "%#llx-%#llx\n", vmbus_mmio[i].start,
				     vmbus_mmio[i].end);
	return len;
}
static DEVICE_ATTR_RO(mmio);

static struct attribute *vmbus_acpi_attrs[] = {
	&dev_attr_mmio.attr,
	NULL,
};

static const struct attribute_group vmbus_acpi_group = {
	.attrs = vmbus_acpi_attrs,
};

const struct attribute_group *vmbus_acpi_groups[] = {
	&vmbus_acpi_group,
	NULL,
};
