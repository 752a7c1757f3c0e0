/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMBus bus driver (viridian_vmbus.ko) as its device drivers see it:
 * driver registration, channels, ring I/O, GPADLs, sub-channels and request
 * IDs. Every exported name starts with viridian_ so the suite loads beside a
 * kernel that carries the in-kernel Hyper-V stack.
 *
 * Drivers match on class GUIDs with the kernel's struct hv_vmbus_device_id
 * and MODULE_DEVICE_TABLE(vmbus, ...), so modpost writes the same
 * "vmbus:<class GUID>" aliases that the bus puts in MODALIAS.
 */
#ifndef VIRIDIAN_VMBUS_H
#define VIRIDIAN_VMBUS_H

#include <linux/device.h>
#include <linux/mod_devicetable.h>
#include <linux/types.h>
#include <viridian/wire/vmbus.h>
#include <viridian/wire/ring.h>

struct viridian_channel;

struct viridian_device {
	struct device dev;
	guid_t class_id;
	guid_t instance_id;
	u16 vendor_id;
	u16 device_id;
	struct viridian_channel *channel;	/* the primary channel */
	const char *driver_override;
};

#define to_viridian_device(d) container_of(d, struct viridian_device, dev)

struct viridian_driver {
	const char *name;
	const struct hv_vmbus_device_id *id_table;
	int (*probe)(struct viridian_device *vdev,
		     const struct hv_vmbus_device_id *id);
	void (*remove)(struct viridian_device *vdev);
	void (*shutdown)(struct viridian_device *vdev);
	struct device_driver driver;
};

#define to_viridian_driver(d) container_of(d, struct viridian_driver, driver)

int __viridian_driver_register(struct viridian_driver *drv,
			       struct module *owner, const char *mod_name);
#define viridian_driver_register(drv) \
	__viridian_driver_register(drv, THIS_MODULE, KBUILD_MODNAME)
void viridian_driver_unregister(struct viridian_driver *drv);

static inline void *viridian_get_drvdata(struct viridian_device *vdev)
{
	return dev_get_drvdata(&vdev->dev);
}

static inline void viridian_set_drvdata(struct viridian_device *vdev,
					void *data)
{
	dev_set_drvdata(&vdev->dev, data);
}

/* The negotiated VMBus protocol version (VMBUS_VERSION_*). */
u32 viridian_vmbus_version(void);

/*
 * Whether the bus can go through suspend or hibernation. Not yet: it
 * refuses both, so drivers should refuse host requests that lead there.
 */
bool viridian_vmbus_can_suspend(void);

/*
 * Channels.
 *
 * The event callback runs in softirq context on the channel's target CPU
 * with the ring's interrupt_mask set; it should read until the ring is
 * empty. The bus clears interrupt_mask afterwards and runs the callback
 * again if packets arrived in between.
 */
typedef void (*viridian_channel_callback_t)(void *context);

/*
 * Ring sizes are in bytes, whole pages, including the 4 KiB control page.
 * close() sleeps: call it from process context, never from the channel's
 * own callback. Closing a primary closes its open sub-channels first.
 */
int viridian_channel_open(struct viridian_channel *ch, u32 send_ring_bytes,
			  u32 recv_ring_bytes, const void *userdata,
			  u32 userdata_len,
			  viridian_channel_callback_t on_event, void *context);
void viridian_channel_close(struct viridian_channel *ch);

struct viridian_device *viridian_channel_device(struct viridian_channel *ch);
u32 viridian_channel_relid(struct viridian_channel *ch);
u16 viridian_channel_subchannel_index(struct viridian_channel *ch);
unsigned int viridian_channel_target_cpu(struct viridian_channel *ch);
bool viridian_channel_rescinded(struct viridian_channel *ch);
const struct vmbus_channel_offer *
viridian_channel_offer(struct viridian_channel *ch);

/*
 * Send one packet: a descriptor of this type, then data. Returns 0,
 * -EAGAIN when the ring lacks room (the caller retries after a completion),
 * -ENODEV once the channel is rescinded or closed, -EBADMSG if the host
 * corrupted the ring's read index. Safe from any context.
 */
int viridian_channel_send(struct viridian_channel *ch, const void *data,
			  u32 len, u64 trans_id, enum vmbus_packet_type type,
			  u16 flags);

/*
 * Send a GPA-direct packet: the ranges (struct vmbus_packet_gpa_range with
 * their PFNs, ranges_bytes in all) and then data. Completion requested.
 */
int viridian_channel_send_gpa_direct(struct viridian_channel *ch,
				     const void *ranges, u32 ranges_bytes,
				     u32 range_count, const void *data,
				     u32 len, u64 trans_id);

/*
 * Receive the next packet. recv copies the payload (after offset8); raw
 * copies the whole packet from its descriptor. Return 0 with *len and
 * *trans_id set, -EAGAIN when the ring is empty, -ENOBUFS when buflen is
 * too small (*len says how much is needed; the packet stays), -EBADMSG when
 * the host wrote a malformed packet (the channel stops taking packets).
 */
int viridian_channel_recv(struct viridian_channel *ch, void *buf, u32 buflen,
			  u32 *len, u64 *trans_id);
int viridian_channel_recv_raw(struct viridian_channel *ch, void *buf,
			      u32 buflen, u32 *len, u64 *trans_id);

/* Free bytes in the guest-to-host ring, for drivers that throttle. */
u32 viridian_channel_send_space(struct viridian_channel *ch);

/*
 * Request IDs. A driver tags each request it sends with an ID from here and
 * looks the host's completion up by it: an ID the host invents, repeats or
 * mangles yields NULL instead of a stale pointer.
 */
int viridian_request_id_get(struct viridian_channel *ch, void *request,
			    u64 *id);
void *viridian_request_id_put(struct viridian_channel *ch, u64 id);

/* GPADLs: a buffer (kmalloc'ed or vmalloc'ed, page aligned) shared with the host. */
struct viridian_gpadl {
	u32 handle;
	void *buffer;
	u32 size;
};

int viridian_gpadl_create(struct viridian_channel *ch, void *buffer, u32 size,
			  struct viridian_gpadl *gpadl);
/*
 * Sleeps. Afterwards gpadl->handle is 0 if the host let go of the buffer;
 * if it never confirmed, the handle stays set and the caller must leak the
 * buffer rather than free memory the host may still write.
 */
void viridian_gpadl_teardown(struct viridian_channel *ch,
			     struct viridian_gpadl *gpadl);

/*
 * Sub-channels. The handler runs in process context for each sub-channel
 * the host offers for this primary, before and after the driver asks for
 * them (those offered before the handler was set are handed over when it
 * is set), once per sub-channel; the driver opens it there. viridian_channel_for_each_sub walks the
 * sub-channels offered so far.
 */
void viridian_channel_set_subchannel_handler(struct viridian_channel *primary,
					     void (*handler)(struct viridian_channel *sub));
void viridian_channel_for_each_sub(struct viridian_channel *primary,
				   void (*fn)(struct viridian_channel *sub,
					      void *arg),
				   void *arg);

/* Per-channel driver data (for sub-channels, which have no device). */
void viridian_channel_set_drvdata(struct viridian_channel *ch, void *data);
void *viridian_channel_get_drvdata(struct viridian_channel *ch);

#endif /* VIRIDIAN_VMBUS_H */
