/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of viridian_vmbus.ko shared between its files.
 *
 * Lock order, outermost first:
 *   viridian_channel.lock (mutex: open, close, retarget)
 *   vmbus_conn.channel_mutex (channel list, relid map updates, sub-channel
 *                             lists, offer and rescind handling)
 *   vmbus_conn.sysfs_mutex (channel kobjects and the channels kset)
 *   vmbus_conn.waiters_lock (spinlock: requests waiting for a response)
 * The ring spinlocks (viridian_channel.out.lock, .in.lock) nest inside
 * nothing and take nothing.
 *
 * Channel lifetime: the kobject embedded in the channel is its reference
 * count. The relid map, a device, a queued work item and a sub-channel's
 * link to its primary each hold a reference.
 */
#ifndef VIRIDIAN_VMBUS_PRIVATE_H
#define VIRIDIAN_VMBUS_PRIVATE_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/interrupt.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <viridian/vmbus.h>
#include "protocol.h"

/* Numbered as Linux numbers them: sysfs "state" shows these values. */
enum viridian_channel_state {
	VIRIDIAN_CHANNEL_OFFERED = 0,
	VIRIDIAN_CHANNEL_OPENING = 1,
	VIRIDIAN_CHANNEL_CLOSING = 2,
	VIRIDIAN_CHANNEL_OPENED = 3,
};

struct vmbus_ring {
	spinlock_t lock;		/* one reader or writer; vs close */
	struct vmbus_ring_control *ctl;
	u8 *data;
	u32 size;		/* bytes of the data area */
	/*
	 * Our own index, authoritative: the shared copy is only published,
	 * never read back, so a host that scribbles on it cannot steer us.
	 */
	u32 priv_index;
};

struct viridian_channel {
	struct kobject kobj;		/* channels/<relid>, and the refcount */
	struct vmbus_channel_offer_channel offer;
	u32 relid;
	bool is_primary;
	struct viridian_channel *primary;	/* sub-channels: holds a ref */

	/* Under vmbus_conn.channel_mutex. */
	struct list_head node;		/* vmbus_conn.channels */
	struct list_head sub_list;	/* primary: its sub-channels */
	struct list_head sub_node;	/* sub-channel: in primary->sub_list */
	struct viridian_device *device;	/* primary, while registered */
	bool device_removing;		/* primary: one remover claimed it */
	bool device_gone;		/* primary: device removed or never made */
	bool released;			/* RELID_RELEASED sent, unmapped */
	void (*sc_handler)(struct viridian_channel *sub);	/* primary */
	bool sc_delivered;		/* sub-channel handed to sc_handler */

	/* Under vmbus_conn.sysfs_mutex. */
	struct kset *channels_kset;	/* primary: the device's channels/ */
	bool kobj_added;

	/* Written under waiters_lock and channel_mutex, read anywhere. */
	bool rescinded;

	struct mutex lock;		/* open, close, retarget */
	enum viridian_channel_state state;	/* READ_ONCE outside lock */
	unsigned int target_cpu;
	viridian_channel_callback_t on_event;
	void *context;
	struct tasklet_struct tasklet;

	void *ring_buffer;		/* send ring, then receive ring */
	u32 ring_bytes;
	struct viridian_gpadl ring_gpadl;
	struct vmbus_ring out;
	struct vmbus_ring in;
	bool broken;			/* host wrote a malformed inbound ring */

	struct xarray requests;
	u32 next_request_id;

	void *drvdata;

	struct work_struct add_work;	/* primary: device registration */
	struct work_struct remove_work;	/* primary: device removal */
	struct work_struct sc_work;	/* sub-channel: hand to the driver */

	atomic64_t interrupts;		/* host-to-guest signals seen */
	atomic64_t events;		/* guest-to-host signals sent */
};

#define to_viridian_channel(k) container_of(k, struct viridian_channel, kobj)

/* A request that waits for the host's response message. */
struct vmbus_waiter {
	struct list_head node;
	u32 response_type;
	u32 relid;
	u32 key;			/* openid or GPADL handle */
	struct viridian_channel *channel;	/* woken on rescind; may be NULL */
	struct completion done;
	bool queued;
	int status;
	u32 response_size;
	u8 response[HV_MESSAGE_PAYLOAD_BYTES];
};

struct vmbus_msg_item {
	struct work_struct work;
	u32 size;
	u8 payload[HV_MESSAGE_PAYLOAD_BYTES] __aligned(8);
};

struct vmbus_connection {
	u32 version;
	u32 msg_conn_id;
	bool connected;
	bool unloading;			/* under channel_mutex */
	bool offers_delivered;
	/* The host knows our monitor pages: they outlive us if it never lets go. */
	bool pages_shared;

	struct hv_monitor_page *monitor_pages[2];	/* host-to-guest, guest-to-host */

	struct mutex channel_mutex;	/* see the lock order above */
	struct list_head channels;
	struct viridian_channel __rcu *relid_map[VMBUS_PROTO_MAX_RELIDS];
	int last_cpu;			/* round-robin target CPU */

	struct mutex sysfs_mutex;	/* channel kobjects, channels ksets */

	spinlock_t waiters_lock;	/* waiters, and setting rescinded */
	struct list_head waiters;

	struct workqueue_struct *msg_wq;	/* ordered: host messages */
	struct workqueue_struct *dev_wq;	/* ordered: device add/remove */
	struct workqueue_struct *sub_wq;	/* ordered: sub-channel hand-off */
	mempool_t *msg_pool;

	atomic_t next_gpadl;
	atomic_t next_openid;
	struct device *root;

	int msg_cpu;			/* host messages arrive here; -1: none */
	int cpuhp_state;		/* ours, or 0 */
};

extern struct vmbus_connection vmbus_conn;
extern struct bus_type vmbus_bus;

/* Timeouts for the host's answers. */
#define VMBUS_CONTACT_TIMEOUT		(10 * HZ)
#define VMBUS_REQUEST_TIMEOUT		(30 * HZ)
#define VMBUS_TEARDOWN_TIMEOUT		(60 * HZ)
#define VMBUS_UNLOAD_TIMEOUT		(10 * HZ)

/* connection.c */
int vmbus_post_msg(const void *msg, u32 size);
void vmbus_waiter_init(struct vmbus_waiter *w, u32 response_type, u32 relid,
		       u32 key, struct viridian_channel *ch);
int vmbus_waiter_add(struct vmbus_waiter *w);
void vmbus_waiter_cancel(struct vmbus_waiter *w);
int vmbus_waiter_wait(struct vmbus_waiter *w, unsigned long timeout);
void vmbus_wake_channel_waiters(struct viridian_channel *ch);
int vmbus_connect(u32 max_version);
void vmbus_unload(void);
int vmbus_connection_init(void);
void vmbus_connection_exit(void);
void vmbus_isr(void);
void vmbus_kill_msg_tasklets(void);
void vmbus_unload_for_next_kernel(bool crash);

/* channel_mgmt.c */
void vmbus_channel_release(struct kobject *kobj);
void vmbus_handle_offer(const struct vmbus_channel_offer_channel *offer);
void vmbus_handle_rescind(const struct vmbus_channel_rescind_offer *msg);
void vmbus_handle_all_offers_delivered(void);
void vmbus_channel_try_release(struct viridian_channel *ch);
void vmbus_remove_all_devices(void);
void vmbus_free_all_channels(void);
void vmbus_channel_sysfs_add(struct viridian_channel *ch);
void vmbus_channel_put(struct viridian_channel *ch);
void vmbus_walk_subs(struct viridian_channel *primary,
		     void (*fn)(struct viridian_channel *sub, void *arg),
		     void *arg);

/* channel.c */
void vmbus_channel_force_close(struct viridian_channel *ch);
int vmbus_channel_retarget(struct viridian_channel *ch, unsigned int cpu);
int vmbus_cpuhp_init(void);
void vmbus_cpuhp_exit(void);

/* ring.c */
void vmbus_ring_init(struct vmbus_ring *ring, void *base, u32 bytes);
void vmbus_signal_host(struct viridian_channel *ch);
void vmbus_channel_tasklet(struct tasklet_struct *t);
struct vmbus_ring_info {
	u32 read_index;
	u32 write_index;
	u32 interrupt_mask;
	u32 bytes_to_read;
	u32 bytes_to_write;
};

int vmbus_ring_snapshot(struct viridian_channel *ch, bool outbound,
			struct vmbus_ring_info *info);

/* acpi.c */
struct device;
void vmbus_acpi_find_mmio(struct device *dev);
extern const struct attribute_group *vmbus_acpi_groups[];

/* sysfs.c */
extern const struct kobj_type vmbus_channel_ktype;
extern const struct attribute_group *vmbus_dev_groups[];
extern const struct attribute_group *vmbus_bus_groups[];

#endif /* VIRIDIAN_VMBUS_PRIVATE_H */
