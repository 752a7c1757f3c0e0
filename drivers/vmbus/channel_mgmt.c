// SPDX-License-Identifier: GPL-2.0
/*
 * Channel management: offers become channels and devices, sub-channels
 * attach to their primary, rescinds tear them down, and a channel's relid
 * goes back to the host once nothing of ours uses it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/dma-mapping.h>
#include <linux/slab.h>

#include <viridian/hv.h>
#include "vmbus_private.h"

void vmbus_channel_put(struct viridian_channel *ch)
{
	kobject_put(&ch->kobj);
}

void vmbus_channel_release(struct kobject *kobj)
{
	struct viridian_channel *ch = to_viridian_channel(kobj);

	xa_destroy(&ch->requests);
	if (ch->primary)
		vmbus_channel_put(ch->primary);
	kfree(ch);
}

static void vmbus_device_add_work(struct work_struct *work);
static void vmbus_device_remove_work(struct work_struct *work);
static void vmbus_subchannel_work(struct work_struct *work);

static struct viridian_channel *
vmbus_channel_alloc(const struct vmbus_channel_offer_channel *offer)
{
	struct viridian_channel *ch;

	ch = kzalloc(sizeof(*ch), GFP_KERNEL);
	if (!ch)
		return NULL;

	kobject_init(&ch->kobj, &vmbus_channel_ktype);
	memcpy(&ch->offer, offer, sizeof(*offer));
	ch->relid = offer->child_relid;
	INIT_LIST_HEAD(&ch->node);
	INIT_LIST_HEAD(&ch->sub_list);
	INIT_LIST_HEAD(&ch->sub_node);
	mutex_init(&ch->lock);
	ch->state = VIRIDIAN_CHANNEL_OFFERED;
	tasklet_setup(&ch->tasklet, vmbus_channel_tasklet);
	spin_lock_init(&ch->out.lock);
	spin_lock_init(&ch->in.lock);
	xa_init_flags(&ch->requests, XA_FLAGS_ALLOC | XA_FLAGS_LOCK_IRQ);
	ch->next_request_id = 1;
	INIT_WORK(&ch->add_work, vmbus_device_add_work);
	INIT_WORK(&ch->remove_work, vmbus_device_remove_work);
	INIT_WORK(&ch->sc_work, vmbus_subchannel_work);
	atomic64_set(&ch->interrupts, 0);
	atomic64_set(&ch->events, 0);
	return ch;
}

/* Queue a channel's work item with a reference the work drops. */
static void vmbus_queue_channel_work(struct workqueue_struct *wq,
				     struct viridian_channel *ch,
				     struct work_struct *work)
{
	kobject_get(&ch->kobj);
	if (!queue_work(wq, work))
		vmbus_channel_put(ch);
}

static struct viridian_channel *vmbus_find_primary(const guid_t *instance)
{
	struct viridian_channel *ch;

	lockdep_assert_held(&vmbus_conn.channel_mutex);
	list_for_each_entry(ch, &vmbus_conn.channels, node) {
		if (ch->is_primary && !ch->rescinded &&
		    guid_equal(&ch->offer.offer.if_instance, instance))
			return ch;
	}
	return NULL;
}

static bool vmbus_sub_index_taken(struct viridian_channel *primary, u16 index)
{
	struct viridian_channel *sub;

	list_for_each_entry(sub, &primary->sub_list, sub_node)
		if (sub->offer.offer.sub_channel_index == index)
			return true;
	return false;
}

/* Spread primaries and sub-channels alike over the online CPUs. */
static unsigned int vmbus_pick_cpu(void)
{
	int cpu;

	lockdep_assert_held(&vmbus_conn.channel_mutex);
	cpu = cpumask_next(vmbus_conn.last_cpu, cpu_online_mask);
	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	vmbus_conn.last_cpu = cpu;
	return cpu;
}

void vmbus_handle_offer(const struct vmbus_channel_offer_channel *offer)
{
	const struct vmbus_channel_offer *o = &offer->offer;
	struct viridian_channel *ch, *primary;
	u32 relid = offer->child_relid;

	if (vmbus_proto_check_offer(offer)) {
		pr_err_ratelimited("malformed offer (relid %u, monitor %u) dropped\n",
				   relid, offer->monitorid);
		return;
	}

	ch = vmbus_channel_alloc(offer);
	if (!ch) {
		pr_err("out of memory: offer of relid %u dropped\n", relid);
		return;
	}

	mutex_lock(&vmbus_conn.channel_mutex);
	if (vmbus_conn.unloading)
		goto drop;
	if (rcu_access_pointer(vmbus_conn.relid_map[relid])) {
		pr_err_ratelimited("duplicate offer of relid %u dropped\n", relid);
		goto drop;
	}

	primary = vmbus_find_primary(&o->if_instance);
	if (o->sub_channel_index) {
		if (!primary || !guid_equal(&primary->offer.offer.if_type, &o->if_type)) {
			pr_err_ratelimited("sub-channel %u (relid %u) of unknown device %pUl dropped\n",
					   o->sub_channel_index, relid,
					   &o->if_instance);
			goto drop;
		}
		if (vmbus_sub_index_taken(primary, o->sub_channel_index)) {
			pr_err_ratelimited("duplicate sub-channel %u of %pUl dropped\n",
					   o->sub_channel_index, &o->if_instance);
			goto drop;
		}
		kobject_get(&primary->kobj);
		ch->primary = primary;
		list_add_tail(&ch->sub_node, &primary->sub_list);
	} else {
		if (primary) {
			pr_err_ratelimited("duplicate offer of device %pUl (relid %u) dropped\n",
					   &o->if_instance, relid);
			goto drop;
		}
		ch->is_primary = true;
	}

	ch->target_cpu = vmbus_pick_cpu();
	list_add_tail(&ch->node, &vmbus_conn.channels);
	/* The map's reference is the one kobject_init() gave us. */
	rcu_assign_pointer(vmbus_conn.relid_map[relid], ch);

	if (ch->is_primary)
		vmbus_queue_channel_work(vmbus_conn.dev_wq, ch, &ch->add_work);
	else
		vmbus_queue_channel_work(vmbus_conn.sub_wq, ch, &ch->sc_work);
	mutex_unlock(&vmbus_conn.channel_mutex);
	return;

drop:
	mutex_unlock(&vmbus_conn.channel_mutex);
	vmbus_channel_put(ch);
}

void vmbus_handle_rescind(const struct vmbus_channel_rescind_offer *msg)
{
	u32 relid = msg->child_relid;
	struct viridian_channel *ch;

	if (relid >= VMBUS_PROTO_MAX_RELIDS) {
		pr_err_ratelimited("rescind of invalid relid %u dropped\n", relid);
		return;
	}

	mutex_lock(&vmbus_conn.channel_mutex);
	ch = rcu_dereference_protected(vmbus_conn.relid_map[relid],
				       lockdep_is_held(&vmbus_conn.channel_mutex));
	if (!ch || ch->rescinded) {
		mutex_unlock(&vmbus_conn.channel_mutex);
		pr_err_ratelimited("rescind of %s relid %u dropped\n",
				   ch ? "already rescinded" : "unknown", relid);
		return;
	}

	/* Requests in flight on it will never be answered: fail them now. */
	spin_lock(&vmbus_conn.waiters_lock);
	WRITE_ONCE(ch->rescinded, true);
	vmbus_wake_channel_waiters(ch);
	spin_unlock(&vmbus_conn.waiters_lock);

	kobject_get(&ch->kobj);
	if (ch->is_primary)
		vmbus_queue_channel_work(vmbus_conn.dev_wq, ch, &ch->remove_work);
	mutex_unlock(&vmbus_conn.channel_mutex);

	pr_info("relid %u (%pUl, sub-channel %u) rescinded\n", relid,
		&ch->offer.offer.if_instance, ch->offer.offer.sub_channel_index);
	/* A closed sub-channel can go at once; an open one goes at close. */
	if (!ch->is_primary)
		vmbus_channel_try_release(ch);
	vmbus_channel_put(ch);
}

static void vmbus_offers_delivered_work(struct work_struct *work)
{
	/*
	 * This runs behind every device registration queued before it, so
	 * the guest's init sees offers_delivered only once the uevents of
	 * the boot-time devices are out.
	 */
	WRITE_ONCE(vmbus_conn.offers_delivered, true);
	pr_info("all offers delivered\n");
}

static DECLARE_WORK(vmbus_offers_delivered, vmbus_offers_delivered_work);

void vmbus_handle_all_offers_delivered(void)
{
	queue_work(vmbus_conn.dev_wq, &vmbus_offers_delivered);
}

void vmbus_channel_sysfs_add(struct viridian_channel *ch)
{
	struct kset *kset;
	int ret;

	mutex_lock(&vmbus_conn.sysfs_mutex);
	kset = ch->is_primary ? ch->channels_kset : ch->primary->channels_kset;
	if (!kset || ch->kobj_added || ch->released)
		goto out;
	ch->kobj.kset = kset;
	ret = kobject_add(&ch->kobj, NULL, "%u", ch->relid);
	if (ret) {
		pr_warn("no sysfs directory for relid %u: %d\n", ch->relid, ret);
		goto out;
	}
	ch->kobj_added = true;
	kobject_uevent(&ch->kobj, KOBJ_ADD);
out:
	mutex_unlock(&vmbus_conn.sysfs_mutex);
}

static void vmbus_channel_sysfs_del(struct viridian_channel *ch)
{
	mutex_lock(&vmbus_conn.sysfs_mutex);
	if (ch->kobj_added) {
		kobject_del(&ch->kobj);
		ch->kobj_added = false;
	}
	mutex_unlock(&vmbus_conn.sysfs_mutex);
}

/*
 * Walk the sub-channels of @primary in sub-channel order without holding
 * a lock across @fn, which may sleep or open channels.
 */
void vmbus_walk_subs(struct viridian_channel *primary,
		     void (*fn)(struct viridian_channel *sub, void *arg),
		     void *arg)
{
	struct viridian_channel *sub, *next;
	u32 last = 0;

	for (;;) {
		next = NULL;
		mutex_lock(&vmbus_conn.channel_mutex);
		list_for_each_entry(sub, &primary->sub_list, sub_node) {
			u16 index = sub->offer.offer.sub_channel_index;

			if (sub->released || index <= last)
				continue;
			if (!next || index < next->offer.offer.sub_channel_index)
				next = sub;
		}
		if (next)
			kobject_get(&next->kobj);
		mutex_unlock(&vmbus_conn.channel_mutex);
		if (!next)
			break;
		last = next->offer.offer.sub_channel_index;
		fn(next, arg);
		vmbus_channel_put(next);
	}
}

static void vmbus_sysfs_add_sub(struct viridian_channel *sub, void *arg)
{
	vmbus_channel_sysfs_add(sub);
}

static void vmbus_sysfs_del_sub(struct viridian_channel *sub, void *arg)
{
	vmbus_channel_sysfs_del(sub);
}

static void vmbus_device_release(struct device *dev)
{
	struct viridian_device *vdev = to_viridian_device(dev);

	vmbus_channel_put(vdev->channel);
	kfree(vdev->driver_override);
	kfree(vdev);
}

static void vmbus_device_add_work(struct work_struct *work)
{
	struct viridian_channel *ch = container_of(work, struct viridian_channel,
						   add_work);
	struct viridian_device *vdev;
	struct kset *kset;
	int ret;

	vdev = kzalloc(sizeof(*vdev), GFP_KERNEL);
	if (!vdev)
		goto gone;
	guid_copy(&vdev->class_id, &ch->offer.offer.if_type);
	guid_copy(&vdev->instance_id, &ch->offer.offer.if_instance);
	vdev->vendor_id = VMBUS_VENDOR_MICROSOFT;
	vdev->device_id = vmbus_proto_device_type(&vdev->class_id);
	kobject_get(&ch->kobj);
	vdev->channel = ch;

	device_initialize(&vdev->dev);
	vdev->dev.bus = &vmbus_bus;
	vdev->dev.parent = vmbus_conn.root;
	vdev->dev.release = vmbus_device_release;
	/* No IOMMU between a guest and the host: any address will do. */
	vdev->dev.coherent_dma_mask = DMA_BIT_MASK(64);
	vdev->dev.dma_mask = &vdev->dev.coherent_dma_mask;
	ret = dev_set_name(&vdev->dev, "%pUl", &vdev->instance_id);
	if (ret)
		goto put_device;

	mutex_lock(&vmbus_conn.channel_mutex);
	if (vmbus_conn.unloading || ch->rescinded) {
		mutex_unlock(&vmbus_conn.channel_mutex);
		goto put_device;
	}
	ch->device = vdev;
	mutex_unlock(&vmbus_conn.channel_mutex);

	ret = device_add(&vdev->dev);
	if (ret) {
		pr_err("registering device %pUl failed: %d\n", &vdev->instance_id,
		       ret);
		mutex_lock(&vmbus_conn.channel_mutex);
		ch->device = NULL;
		mutex_unlock(&vmbus_conn.channel_mutex);
		goto put_device;
	}

	kset = kset_create_and_add("channels", NULL, &vdev->dev.kobj);
	if (!kset)
		dev_warn(&vdev->dev, "no channels directory in sysfs\n");
	mutex_lock(&vmbus_conn.sysfs_mutex);
	ch->channels_kset = kset;
	mutex_unlock(&vmbus_conn.sysfs_mutex);
	vmbus_channel_sysfs_add(ch);
	/* Sub-channels offered while the device was being added. */
	vmbus_walk_subs(ch, vmbus_sysfs_add_sub, NULL);
	vmbus_channel_put(ch);
	return;

put_device:
	put_device(&vdev->dev);
gone:
	mutex_lock(&vmbus_conn.channel_mutex);
	ch->device_gone = true;
	mutex_unlock(&vmbus_conn.channel_mutex);
	vmbus_channel_try_release(ch);
	vmbus_channel_put(ch);
}

/* Remove the device of a primary channel, if it has one. */
static void vmbus_remove_device_of(struct viridian_channel *ch)
{
	struct viridian_device *vdev;
	struct kset *kset;

	/* A rescind and module unload may both try: the first one removes. */
	mutex_lock(&vmbus_conn.channel_mutex);
	vdev = ch->device_removing ? NULL : ch->device;
	if (vdev)
		ch->device_removing = true;
	else if (!ch->device_removing)
		ch->device_gone = true;
	mutex_unlock(&vmbus_conn.channel_mutex);
	if (!vdev)
		return;

	/* No sub-channel can join the directory once the kset is unhooked. */
	mutex_lock(&vmbus_conn.sysfs_mutex);
	kset = ch->channels_kset;
	ch->channels_kset = NULL;
	mutex_unlock(&vmbus_conn.sysfs_mutex);
	vmbus_walk_subs(ch, vmbus_sysfs_del_sub, NULL);
	vmbus_channel_sysfs_del(ch);
	kset_unregister(kset);

	/* The driver's remove() runs in here and closes the channels. */
	device_unregister(&vdev->dev);

	mutex_lock(&vmbus_conn.channel_mutex);
	ch->device = NULL;
	ch->device_gone = true;
	mutex_unlock(&vmbus_conn.channel_mutex);
}

static void vmbus_device_remove_work(struct work_struct *work)
{
	struct viridian_channel *ch = container_of(work, struct viridian_channel,
						   remove_work);

	vmbus_remove_device_of(ch);
	vmbus_channel_try_release(ch);
	vmbus_channel_put(ch);
}

static void vmbus_subchannel_work(struct work_struct *work)
{
	struct viridian_channel *sub = container_of(work, struct viridian_channel,
						    sc_work);
	struct viridian_channel *primary = sub->primary;
	void (*handler)(struct viridian_channel *sub) = NULL;

	vmbus_channel_sysfs_add(sub);

	mutex_lock(&vmbus_conn.channel_mutex);
	if (!vmbus_conn.unloading && !sub->released && !sub->rescinded &&
	    !sub->sc_delivered && primary->sc_handler) {
		sub->sc_delivered = true;
		handler = primary->sc_handler;
	}
	mutex_unlock(&vmbus_conn.channel_mutex);

	if (handler)
		handler(sub);
	vmbus_channel_put(sub);
}

void viridian_channel_set_subchannel_handler(struct viridian_channel *primary,
					     void (*handler)(struct viridian_channel *sub))
{
	struct viridian_channel *sub;

	if (WARN_ON(!primary || !primary->is_primary))
		return;

	mutex_lock(&vmbus_conn.channel_mutex);
	primary->sc_handler = handler;
	/* Sub-channels offered before the driver asked get handed over now. */
	if (handler) {
		list_for_each_entry(sub, &primary->sub_list, sub_node)
			if (!sub->sc_delivered && !sub->rescinded &&
			    !sub->released)
				vmbus_queue_channel_work(vmbus_conn.sub_wq, sub,
							 &sub->sc_work);
	}
	mutex_unlock(&vmbus_conn.channel_mutex);
}
EXPORT_SYMBOL_GPL(viridian_channel_set_subchannel_handler);

static void vmbus_walk_subs_checked(struct viridian_channel *primary,
				    void (*fn)(struct viridian_channel *sub, void *arg),
				    void *arg)
{
	if (WARN_ON(!primary || !primary->is_primary || !fn))
		return;
	vmbus_walk_subs(primary, fn, arg);
}

/*
 * Defined as an alias only because checkpatch reads any "for_each" name
 * followed by a brace as a loop.
 */
void viridian_channel_for_each_sub(struct viridian_channel *primary,
				   void (*fn)(struct viridian_channel *sub, void *arg),
				   void *arg) __alias(vmbus_walk_subs_checked);
EXPORT_SYMBOL_GPL(viridian_channel_for_each_sub);

/*
 * Give a rescinded channel's relid back once nothing uses it: it is closed
 * and, for a primary, its device is gone. Safe to call at any time; the
 * last caller to find all three true does the release.
 */
void vmbus_channel_try_release(struct viridian_channel *ch)
{
	struct vmbus_channel_relid_released msg = {
		.header.msgtype = CHANNELMSG_RELID_RELEASED,
		.child_relid = ch->relid,
	};
	bool release = false;
	int ret;

	mutex_lock(&vmbus_conn.channel_mutex);
	if (ch->rescinded && !ch->released && !vmbus_conn.unloading &&
	    READ_ONCE(ch->state) == VIRIDIAN_CHANNEL_OFFERED &&
	    (!ch->is_primary || ch->device_gone)) {
		ch->released = true;
		RCU_INIT_POINTER(vmbus_conn.relid_map[ch->relid], NULL);
		list_del_init(&ch->node);
		list_del_init(&ch->sub_node);
		release = true;
	}
	mutex_unlock(&vmbus_conn.channel_mutex);
	if (!release)
		return;

	ret = vmbus_post_msg(&msg, sizeof(msg));
	if (ret)
		pr_err("RELID_RELEASED for relid %u failed: %d\n", ch->relid, ret);

	/* Interrupt handlers that found it in the map are done after this. */
	synchronize_rcu();
	tasklet_kill(&ch->tasklet);
	vmbus_channel_sysfs_del(ch);
	vmbus_channel_put(ch);
}

/* Call @fn on every mapped channel, in relid order, holding a reference. */
static void vmbus_walk_channels(void (*fn)(struct viridian_channel *ch))
{
	struct viridian_channel *ch;
	unsigned int relid;

	for (relid = 0; relid < VMBUS_PROTO_MAX_RELIDS; relid++) {
		mutex_lock(&vmbus_conn.channel_mutex);
		ch = rcu_dereference_protected(vmbus_conn.relid_map[relid],
					       lockdep_is_held(&vmbus_conn.channel_mutex));
		if (ch)
			kobject_get(&ch->kobj);
		mutex_unlock(&vmbus_conn.channel_mutex);
		if (!ch)
			continue;
		fn(ch);
		vmbus_channel_put(ch);
	}
}

static void vmbus_unload_remove_device(struct viridian_channel *ch)
{
	if (ch->is_primary)
		vmbus_remove_device_of(ch);
}

/*
 * Module unload, first half: no new devices, every device removed (their
 * drivers close their channels), and whatever is still open closed.
 */
void vmbus_remove_all_devices(void)
{
	mutex_lock(&vmbus_conn.channel_mutex);
	vmbus_conn.unloading = true;
	mutex_unlock(&vmbus_conn.channel_mutex);
	flush_workqueue(vmbus_conn.dev_wq);
	flush_workqueue(vmbus_conn.sub_wq);

	vmbus_walk_channels(vmbus_unload_remove_device);
	/* Removals a rescind started meanwhile finish here. */
	flush_workqueue(vmbus_conn.dev_wq);
	vmbus_walk_channels(vmbus_channel_force_close);
}

/*
 * Module unload, second half, after UNLOAD and with the SynIC handler gone:
 * drop every channel.
 */
void vmbus_free_all_channels(void)
{
	struct viridian_channel *ch, *tmp;
	LIST_HEAD(dead);
	unsigned int relid;

	mutex_lock(&vmbus_conn.channel_mutex);
	for (relid = 0; relid < VMBUS_PROTO_MAX_RELIDS; relid++)
		RCU_INIT_POINTER(vmbus_conn.relid_map[relid], NULL);
	list_for_each_entry_safe(ch, tmp, &vmbus_conn.channels, node) {
		list_del_init(&ch->sub_node);
		list_move_tail(&ch->node, &dead);
	}
	mutex_unlock(&vmbus_conn.channel_mutex);

	synchronize_rcu();
	list_for_each_entry_safe(ch, tmp, &dead, node) {
		list_del_init(&ch->node);
		tasklet_kill(&ch->tasklet);
		vmbus_channel_sysfs_del(ch);
		vmbus_channel_put(ch);
	}
}
