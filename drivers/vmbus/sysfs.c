// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs: the per-device attributes and the channels/<relid>/ directories
 * with Linux's names and formats (lsvmbus and cloud agents parse them),
 * and the bus attributes the guest's init waits on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>
#include <linux/topology.h>

#include <viridian/compat.h>
#include "vmbus_private.h"

static struct viridian_channel *dev_channel(struct device *dev)
{
	return to_viridian_device(dev)->channel;
}

static u8 monitor_group(const struct viridian_channel *ch)
{
	return ch->offer.monitorid / VMBUS_MONITOR_IDS_PER_GROUP;
}

static u8 monitor_offset(const struct viridian_channel *ch)
{
	return ch->offer.monitorid % VMBUS_MONITOR_IDS_PER_GROUP;
}

/* Page 0 is the host's (server's), page 1 ours (the client's). */
static u32 monitor_pending(const struct viridian_channel *ch, unsigned int page)
{
	const struct hv_monitor_page *mp = vmbus_conn.monitor_pages[page];

	return READ_ONCE(mp->trigger_group[monitor_group(ch)].pending);
}

static u32 monitor_latency(const struct viridian_channel *ch, unsigned int page)
{
	const struct hv_monitor_page *mp = vmbus_conn.monitor_pages[page];

	return READ_ONCE(mp->latency[monitor_group(ch)][monitor_offset(ch)]);
}

static u32 monitor_conn_id(const struct viridian_channel *ch, unsigned int page)
{
	const struct hv_monitor_page *mp = vmbus_conn.monitor_pages[page];

	return READ_ONCE(mp->parameter[monitor_group(ch)][monitor_offset(ch)].connection_id);
}

static ssize_t id_show(struct device *dev, struct device_attribute *attr,
		       char *buf)
{
	return sysfs_emit(buf, "%u\n", dev_channel(dev)->relid);
}
static DEVICE_ATTR_RO(id);

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(dev_channel(dev)->state));
}
static DEVICE_ATTR_RO(state);

static ssize_t monitor_id_show(struct device *dev, struct device_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%u\n", dev_channel(dev)->offer.monitorid);
}
static DEVICE_ATTR_RO(monitor_id);

static ssize_t class_id_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "{%pUl}\n", &to_viridian_device(dev)->class_id);
}
static DEVICE_ATTR_RO(class_id);

static ssize_t device_id_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "{%pUl}\n", &to_viridian_device(dev)->instance_id);
}
static DEVICE_ATTR_RO(device_id);

static ssize_t modalias_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "vmbus:%*phN\n", UUID_SIZE,
			  &to_viridian_device(dev)->class_id);
}
static DEVICE_ATTR_RO(modalias);

static ssize_t numa_node_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  cpu_to_node(READ_ONCE(dev_channel(dev)->target_cpu)));
}
static DEVICE_ATTR_RO(numa_node);

static ssize_t server_monitor_pending_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_pending(dev_channel(dev), 0));
}
static DEVICE_ATTR_RO(server_monitor_pending);

static ssize_t client_monitor_pending_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_pending(dev_channel(dev), 1));
}
static DEVICE_ATTR_RO(client_monitor_pending);

static ssize_t server_monitor_latency_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_latency(dev_channel(dev), 0));
}
static DEVICE_ATTR_RO(server_monitor_latency);

static ssize_t client_monitor_latency_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_latency(dev_channel(dev), 1));
}
static DEVICE_ATTR_RO(client_monitor_latency);

static ssize_t server_monitor_conn_id_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_conn_id(dev_channel(dev), 0));
}
static DEVICE_ATTR_RO(server_monitor_conn_id);

static ssize_t client_monitor_conn_id_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_conn_id(dev_channel(dev), 1));
}
static DEVICE_ATTR_RO(client_monitor_conn_id);

enum ring_field {
	RING_INTR_MASK,
	RING_READ_INDEX,
	RING_WRITE_INDEX,
	RING_READ_AVAIL,
	RING_WRITE_AVAIL,
};

static ssize_t ring_field_show(struct viridian_channel *ch, bool outbound,
			       enum ring_field field, char *buf)
{
	struct vmbus_ring_info info;
	u32 value;
	int ret;

	ret = vmbus_ring_snapshot(ch, outbound, &info);
	if (ret)
		return ret;
	switch (field) {
	case RING_INTR_MASK:
		value = info.interrupt_mask;
		break;
	case RING_READ_INDEX:
		value = info.read_index;
		break;
	case RING_WRITE_INDEX:
		value = info.write_index;
		break;
	case RING_READ_AVAIL:
		value = info.bytes_to_read;
		break;
	default:
		value = info.bytes_to_write;
		break;
	}
	return sysfs_emit(buf, "%u\n", value);
}

#define VMBUS_RING_DEV_ATTR(name, outbound, field)			\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return ring_field_show(dev_channel(dev), outbound, field, buf);	\
}									\
static DEVICE_ATTR_RO(name)

VMBUS_RING_DEV_ATTR(out_intr_mask, true, RING_INTR_MASK);
VMBUS_RING_DEV_ATTR(out_read_index, true, RING_READ_INDEX);
VMBUS_RING_DEV_ATTR(out_write_index, true, RING_WRITE_INDEX);
VMBUS_RING_DEV_ATTR(out_read_bytes_avail, true, RING_READ_AVAIL);
VMBUS_RING_DEV_ATTR(out_write_bytes_avail, true, RING_WRITE_AVAIL);
VMBUS_RING_DEV_ATTR(in_intr_mask, false, RING_INTR_MASK);
VMBUS_RING_DEV_ATTR(in_read_index, false, RING_READ_INDEX);
VMBUS_RING_DEV_ATTR(in_write_index, false, RING_WRITE_INDEX);
VMBUS_RING_DEV_ATTR(in_read_bytes_avail, false, RING_READ_AVAIL);
VMBUS_RING_DEV_ATTR(in_write_bytes_avail, false, RING_WRITE_AVAIL);

static ssize_t channel_vp_mapping_show(struct device *dev,
				       struct device_attribute *attr,
				       char *buf)
{
	struct viridian_channel *ch = dev_channel(dev), *sub;
	int len;

	mutex_lock(&vmbus_conn.channel_mutex);
	len = sysfs_emit(buf, "%u:%u\n", ch->relid, READ_ONCE(ch->target_cpu));
	list_for_each_entry(sub, &ch->sub_list, sub_node)
		len += sysfs_emit_at(buf, len, "%u:%u\n", sub->relid,
				     READ_ONCE(sub->target_cpu));
	mutex_unlock(&vmbus_conn.channel_mutex);
	return len;
}
static DEVICE_ATTR_RO(channel_vp_mapping);

static ssize_t vendor_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "0x%x\n", to_viridian_device(dev)->vendor_id);
}
static DEVICE_ATTR_RO(vendor);

static ssize_t device_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "0x%x\n", to_viridian_device(dev)->device_id);
}
static DEVICE_ATTR_RO(device);

static ssize_t driver_override_store(struct device *dev,
				     struct device_attribute *attr,
				     const char *buf, size_t count)
{
	int ret;

	ret = driver_set_override(dev, &to_viridian_device(dev)->driver_override,
				  buf, count);
	return ret ? ret : count;
}

static ssize_t driver_override_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	ssize_t len;

	device_lock(dev);
	len = sysfs_emit(buf, "%s\n", to_viridian_device(dev)->driver_override);
	device_unlock(dev);
	return len;
}
static DEVICE_ATTR_RW(driver_override);

static struct attribute *vmbus_dev_attrs[] = {
	&dev_attr_id.attr,
	&dev_attr_state.attr,
	&dev_attr_monitor_id.attr,
	&dev_attr_class_id.attr,
	&dev_attr_device_id.attr,
	&dev_attr_modalias.attr,
	&dev_attr_numa_node.attr,
	&dev_attr_server_monitor_pending.attr,
	&dev_attr_client_monitor_pending.attr,
	&dev_attr_server_monitor_latency.attr,
	&dev_attr_client_monitor_latency.attr,
	&dev_attr_server_monitor_conn_id.attr,
	&dev_attr_client_monitor_conn_id.attr,
	&dev_attr_out_intr_mask.attr,
	&dev_attr_out_read_index.attr,
	&dev_attr_out_write_index.attr,
	&dev_attr_out_read_bytes_avail.attr,
	&dev_attr_out_write_bytes_avail.attr,
	&dev_attr_in_intr_mask.attr,
	&dev_attr_in_read_index.attr,
	&dev_attr_in_write_index.attr,
	&dev_attr_in_read_bytes_avail.attr,
	&dev_attr_in_write_bytes_avail.attr,
	&dev_attr_channel_vp_mapping.attr,
	&dev_attr_vendor.attr,
	&dev_attr_device.attr,
	&dev_attr_driver_override.attr,
	NULL,
};

static umode_t vmbus_dev_attr_is_visible(struct kobject *kobj,
					 struct attribute *attr, int idx)
{
	struct viridian_channel *ch = dev_channel(kobj_to_dev(kobj));

	/* Monitor attributes mean nothing without an allocated monitor. */
	if (!vmbus_proto_offer_monitored(&ch->offer) &&
	    (attr == &dev_attr_monitor_id.attr ||
	     attr == &dev_attr_server_monitor_pending.attr ||
	     attr == &dev_attr_client_monitor_pending.attr ||
	     attr == &dev_attr_server_monitor_latency.attr ||
	     attr == &dev_attr_client_monitor_latency.attr ||
	     attr == &dev_attr_server_monitor_conn_id.attr ||
	     attr == &dev_attr_client_monitor_conn_id.attr))
		return 0;
	return attr->mode;
}

static const struct attribute_group vmbus_dev_group = {
	.attrs = vmbus_dev_attrs,
	.is_visible = vmbus_dev_attr_is_visible,
};

const struct attribute_group *vmbus_dev_groups[] = {
	&vmbus_dev_group,
	NULL,
};

/* channels/<relid>/ */

struct vmbus_chan_attribute {
	struct attribute attr;
	ssize_t (*show)(struct viridian_channel *ch, char *buf);
	ssize_t (*store)(struct viridian_channel *ch, const char *buf,
			 size_t count);
};

#define VMBUS_CHAN_ATTR(_name, _mode, _show, _store)			\
static struct vmbus_chan_attribute chan_attr_##_name = {		\
	.attr = { .name = __stringify(_name), .mode = _mode },		\
	.show = _show,							\
	.store = _store,						\
}

static ssize_t chan_out_mask_show(struct viridian_channel *ch, char *buf)
{
	return ring_field_show(ch, true, RING_INTR_MASK, buf);
}
VMBUS_CHAN_ATTR(out_mask, 0444, chan_out_mask_show, NULL);

static ssize_t chan_in_mask_show(struct viridian_channel *ch, char *buf)
{
	return ring_field_show(ch, false, RING_INTR_MASK, buf);
}
VMBUS_CHAN_ATTR(in_mask, 0444, chan_in_mask_show, NULL);

static ssize_t chan_read_avail_show(struct viridian_channel *ch, char *buf)
{
	return ring_field_show(ch, false, RING_READ_AVAIL, buf);
}
VMBUS_CHAN_ATTR(read_avail, 0444, chan_read_avail_show, NULL);

static ssize_t chan_write_avail_show(struct viridian_channel *ch, char *buf)
{
	return ring_field_show(ch, true, RING_WRITE_AVAIL, buf);
}
VMBUS_CHAN_ATTR(write_avail, 0444, chan_write_avail_show, NULL);

static ssize_t chan_cpu_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(ch->target_cpu));
}

static ssize_t chan_cpu_store(struct viridian_channel *ch, const char *buf,
			      size_t count)
{
	unsigned int cpu;
	int ret;

	ret = kstrtouint(buf, 10, &cpu);
	if (ret)
		return ret;
	ret = vmbus_channel_retarget(ch, cpu);
	return ret ? ret : count;
}
VMBUS_CHAN_ATTR(cpu, 0644, chan_cpu_show, chan_cpu_store);

static ssize_t chan_pending_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_pending(ch, 1));
}
VMBUS_CHAN_ATTR(pending, 0444, chan_pending_show, NULL);

static ssize_t chan_latency_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%u\n", monitor_latency(ch, 1));
}
VMBUS_CHAN_ATTR(latency, 0444, chan_latency_show, NULL);

static ssize_t chan_interrupts_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  (unsigned long long)atomic64_read(&ch->interrupts));
}
VMBUS_CHAN_ATTR(interrupts, 0444, chan_interrupts_show, NULL);

static ssize_t chan_events_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  (unsigned long long)atomic64_read(&ch->events));
}
VMBUS_CHAN_ATTR(events, 0444, chan_events_show, NULL);

static ssize_t chan_monitor_id_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%u\n", ch->offer.monitorid);
}
VMBUS_CHAN_ATTR(monitor_id, 0444, chan_monitor_id_show, NULL);

static ssize_t chan_subchannel_id_show(struct viridian_channel *ch, char *buf)
{
	return sysfs_emit(buf, "%u\n", ch->offer.offer.sub_channel_index);
}
VMBUS_CHAN_ATTR(subchannel_id, 0444, chan_subchannel_id_show, NULL);

static struct attribute *vmbus_chan_attrs[] = {
	&chan_attr_out_mask.attr,
	&chan_attr_in_mask.attr,
	&chan_attr_read_avail.attr,
	&chan_attr_write_avail.attr,
	&chan_attr_cpu.attr,
	&chan_attr_pending.attr,
	&chan_attr_latency.attr,
	&chan_attr_interrupts.attr,
	&chan_attr_events.attr,
	&chan_attr_monitor_id.attr,
	&chan_attr_subchannel_id.attr,
	NULL,
};

static umode_t vmbus_chan_attr_is_visible(struct kobject *kobj,
					  struct attribute *attr, int idx)
{
	struct viridian_channel *ch = to_viridian_channel(kobj);

	if (!vmbus_proto_offer_monitored(&ch->offer) &&
	    (attr == &chan_attr_pending.attr ||
	     attr == &chan_attr_latency.attr ||
	     attr == &chan_attr_monitor_id.attr))
		return 0;
	return attr->mode;
}

static const struct attribute_group vmbus_chan_group = {
	.attrs = vmbus_chan_attrs,
	.is_visible = vmbus_chan_attr_is_visible,
};

static const struct attribute_group *vmbus_chan_groups[] = {
	&vmbus_chan_group,
	NULL,
};

static ssize_t vmbus_chan_attr_show(struct kobject *kobj,
				    struct attribute *attr, char *buf)
{
	const struct vmbus_chan_attribute *a =
		container_of(attr, struct vmbus_chan_attribute, attr);

	if (!a->show)
		return -EIO;
	return a->show(to_viridian_channel(kobj), buf);
}

static ssize_t vmbus_chan_attr_store(struct kobject *kobj,
				     struct attribute *attr, const char *buf,
				     size_t count)
{
	const struct vmbus_chan_attribute *a =
		container_of(attr, struct vmbus_chan_attribute, attr);

	if (!a->store)
		return -EIO;
	return a->store(to_viridian_channel(kobj), buf, count);
}

static const struct sysfs_ops vmbus_chan_sysfs_ops = {
	.show = vmbus_chan_attr_show,
	.store = vmbus_chan_attr_store,
};

const struct kobj_type vmbus_channel_ktype = {
	.release = vmbus_channel_release,
	.sysfs_ops = &vmbus_chan_sysfs_ops,
	.default_groups = vmbus_chan_groups,
};

/* /sys/bus/vmbus/ */

static ssize_t offers_delivered_show(viridian_bus_attr_bus *bus, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(vmbus_conn.offers_delivered));
}
static BUS_ATTR_RO(offers_delivered);

static ssize_t version_show(viridian_bus_attr_bus *bus, char *buf)
{
	u32 version = READ_ONCE(vmbus_conn.version);

	return sysfs_emit(buf, "%u.%u\n", VMBUS_VERSION_MAJOR(version),
			  VMBUS_VERSION_MINOR(version));
}
static BUS_ATTR_RO(version);

static struct attribute *vmbus_bus_attrs[] = {
	&bus_attr_offers_delivered.attr,
	&bus_attr_version.attr,
	NULL,
};

static const struct attribute_group vmbus_bus_group = {
	.attrs = vmbus_bus_attrs,
};

const struct attribute_group *vmbus_bus_groups[] = {
	&vmbus_bus_group,
	NULL,
};
