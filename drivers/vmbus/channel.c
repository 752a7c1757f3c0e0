// SPDX-License-Identifier: GPL-2.0
/*
 * Channel operations for device drivers: open and close, GPADLs, target
 * CPU changes, request IDs and accessors.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/topology.h>
#include <linux/vmalloc.h>

#include <viridian/hv.h>
#include "vmbus_private.h"

static u32 vmbus_next_gpadl_handle(void)
{
	u32 handle;

	/* Zero means "no GPADL" to callers: never hand it out. */
	do {
		handle = atomic_inc_return(&vmbus_conn.next_gpadl);
	} while (!handle);
	return handle;
}

static u64 vmbus_buffer_pfn(void *buffer, u32 offset)
{
	void *addr = (u8 *)buffer + offset;

	if (is_vmalloc_addr(buffer))
		return vmalloc_to_pfn(addr);
	return PHYS_PFN(virt_to_phys(addr));
}

int viridian_gpadl_create(struct viridian_channel *ch, void *buffer, u32 size,
			  struct viridian_gpadl *gpadl)
{
	u64 msg[HV_MESSAGE_PAYLOAD_QWORDS];
	struct vmbus_waiter *w;
	u32 pfn_count, nmsgs, i, msg_size, handle;
	const struct vmbus_channel_gpadl_created *created;
	u64 *pfns;
	int ret;

	/* Hyper-V frames are 4 KiB; so are ours on every arch we build for. */
	BUILD_BUG_ON(PAGE_SIZE != VIRIDIAN_PAGE_SIZE);

	if (!ch || !buffer || !gpadl || offset_in_page(buffer))
		return -EINVAL;
	ret = vmbus_proto_gpadl_pages(size, &pfn_count);
	if (ret)
		return ret;
	if (READ_ONCE(ch->rescinded))
		return -ENODEV;

	pfns = kvmalloc_array(pfn_count, sizeof(*pfns), GFP_KERNEL);
	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!pfns || !w) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < pfn_count; i++)
		pfns[i] = vmbus_buffer_pfn(buffer, i * VIRIDIAN_PAGE_SIZE);

	handle = vmbus_next_gpadl_handle();
	vmbus_waiter_init(w, CHANNELMSG_GPADL_CREATED, ch->relid, handle, ch);
	ret = vmbus_waiter_add(w);
	if (ret)
		goto out;

	nmsgs = vmbus_proto_gpadl_msg_count(pfn_count);
	for (i = 0; i < nmsgs; i++) {
		msg_size = vmbus_proto_gpadl_build_msg(msg, i, ch->relid, handle,
						       pfns, pfn_count);
		ret = vmbus_post_msg(msg, msg_size);
		if (ret) {
			vmbus_waiter_cancel(w);
			goto out;
		}
	}

	ret = vmbus_waiter_wait(w, VMBUS_REQUEST_TIMEOUT);
	if (ret) {
		if (ret == -ETIMEDOUT)
			pr_err("relid %u: no GPADL_CREATED for GPADL %#x\n",
			       ch->relid, handle);
		goto out;
	}
	created = (const void *)w->response;
	if (created->creation_status) {
		pr_err("relid %u: host refused GPADL %#x of %u pages: status %#x\n",
		       ch->relid, handle, pfn_count, created->creation_status);
		ret = -EIO;
		goto out;
	}

	gpadl->handle = handle;
	gpadl->buffer = buffer;
	gpadl->size = size;
out:
	kfree(w);
	kvfree(pfns);
	return ret;
}
EXPORT_SYMBOL_GPL(viridian_gpadl_create);

/*
 * On return gpadl->handle is 0 if the host let go of the buffer. If it did
 * not confirm, the handle stays set and the buffer must be leaked: the
 * host may still write to it.
 */
void viridian_gpadl_teardown(struct viridian_channel *ch,
			     struct viridian_gpadl *gpadl)
{
	struct vmbus_channel_gpadl_teardown msg;
	struct vmbus_waiter w;
	int ret;

	if (!ch || !gpadl || !gpadl->handle)
		return;
	/* A rescind takes the channel's GPADLs with it; the host answers nothing. */
	if (READ_ONCE(ch->rescinded)) {
		gpadl->handle = 0;
		return;
	}

	vmbus_waiter_init(&w, CHANNELMSG_GPADL_TORNDOWN, ch->relid,
			  gpadl->handle, ch);
	ret = vmbus_waiter_add(&w);
	if (ret == -ENODEV) {
		gpadl->handle = 0;
		return;
	}

	memset(&msg, 0, sizeof(msg));
	msg.header.msgtype = CHANNELMSG_GPADL_TEARDOWN;
	msg.child_relid = ch->relid;
	msg.gpadl = gpadl->handle;
	ret = vmbus_post_msg(&msg, sizeof(msg));
	if (ret) {
		vmbus_waiter_cancel(&w);
	} else {
		ret = vmbus_waiter_wait(&w, VMBUS_TEARDOWN_TIMEOUT);
		/* Woken by a rescind: the host dropped the GPADL with it. */
		if (ret == -ENODEV)
			ret = 0;
	}
	if (ret)
		pr_err("relid %u: GPADL %#x teardown unconfirmed (%d); its %u bytes stay allocated\n",
		       ch->relid, gpadl->handle, ret, gpadl->size);
	else
		gpadl->handle = 0;
}
EXPORT_SYMBOL_GPL(viridian_gpadl_teardown);

/* Free the rings unless the host may still be writing them. */
static void vmbus_channel_free_rings(struct viridian_channel *ch,
				     bool host_done)
{
	if (ch->ring_gpadl.handle)
		host_done = false;
	if (host_done)
		vfree(ch->ring_buffer);
	else
		pr_err("relid %u: leaking %u bytes of ring the host may still use\n",
		       ch->relid, ch->ring_bytes);
	ch->ring_gpadl.handle = 0;
	ch->ring_buffer = NULL;
	ch->ring_bytes = 0;
	ch->out.ctl = NULL;
	ch->out.data = NULL;
	ch->in.ctl = NULL;
	ch->in.data = NULL;
}

static void vmbus_kick_tasklet(void *arg)
{
	struct viridian_channel *ch = arg;

	tasklet_schedule(&ch->tasklet);
}

int viridian_channel_open(struct viridian_channel *ch, u32 send_ring_bytes,
			  u32 recv_ring_bytes, const void *userdata,
			  u32 userdata_len,
			  viridian_channel_callback_t on_event, void *context)
{
	struct vmbus_channel_open_channel msg;
	const struct vmbus_channel_open_result *result;
	struct vmbus_channel_close_channel close_msg;
	struct vmbus_waiter *w = NULL;
	unsigned int cpu;
	void *ring;
	u32 openid;
	int ret;

	if (!ch || !on_event)
		return -EINVAL;
	ret = vmbus_proto_check_ring_sizes(send_ring_bytes, recv_ring_bytes);
	if (ret)
		return ret;
	if (userdata_len > VMBUS_MAX_USER_DEFINED_BYTES ||
	    (userdata_len && !userdata))
		return -EINVAL;

	mutex_lock(&ch->lock);
	if (ch->state != VIRIDIAN_CHANNEL_OFFERED) {
		ret = -EBUSY;
		goto unlock;
	}
	if (READ_ONCE(ch->rescinded) || ch->released) {
		ret = -ENODEV;
		goto unlock;
	}

	/*
	 * Choose an online CPU and claim it in one step against CPU hotplug:
	 * from OPENING on, vmbus_cpu_offline() keeps that CPU online, since
	 * the host will interrupt only it for this channel.
	 */
	cpus_read_lock();
	cpu = READ_ONCE(ch->target_cpu);
	if (!cpu_online(cpu)) {
		cpu = cpumask_first(cpu_online_mask);
		WRITE_ONCE(ch->target_cpu, cpu);
	}
	WRITE_ONCE(ch->state, VIRIDIAN_CHANNEL_OPENING);
	cpus_read_unlock();

	w = kmalloc(sizeof(*w), GFP_KERNEL);
	ring = vzalloc_node(send_ring_bytes + recv_ring_bytes, cpu_to_node(cpu));
	if (!w || !ring) {
		vfree(ring);
		ret = -ENOMEM;
		goto closed;
	}
	ch->ring_buffer = ring;
	ch->ring_bytes = send_ring_bytes + recv_ring_bytes;
	vmbus_ring_init(&ch->out, ring, send_ring_bytes);
	vmbus_ring_init(&ch->in, (u8 *)ring + send_ring_bytes, recv_ring_bytes);
	WRITE_ONCE(ch->broken, false);

	ret = viridian_gpadl_create(ch, ring, ch->ring_bytes, &ch->ring_gpadl);
	if (ret)
		goto free_rings;

	ch->on_event = on_event;
	ch->context = context;

	openid = atomic_inc_return(&vmbus_conn.next_openid);
	ret = vmbus_proto_build_open(&msg, ch->relid, openid,
				     ch->ring_gpadl.handle,
				     viridian_hv_vp_index(cpu), send_ring_bytes,
				     userdata, userdata_len);
	if (ret)
		goto teardown;
	vmbus_waiter_init(w, CHANNELMSG_OPENCHANNEL_RESULT, ch->relid, openid, ch);
	ret = vmbus_waiter_add(w);
	if (ret)
		goto teardown;
	ret = vmbus_post_msg(&msg, sizeof(msg));
	if (ret) {
		vmbus_waiter_cancel(w);
		goto teardown;
	}
	ret = vmbus_waiter_wait(w, VMBUS_REQUEST_TIMEOUT);
	if (ret == -ETIMEDOUT) {
		/* The host may open it late: make sure it ends up closed. */
		pr_err("relid %u: no OPENCHANNEL_RESULT\n", ch->relid);
		close_msg.header.msgtype = CHANNELMSG_CLOSECHANNEL;
		close_msg.header.padding = 0;
		close_msg.child_relid = ch->relid;
		if (vmbus_post_msg(&close_msg, sizeof(close_msg)))
			goto leak;
	}
	if (ret)
		goto teardown;
	result = (const void *)w->response;
	if (result->status) {
		pr_err("relid %u: host refused to open the channel: status %#x\n",
		       ch->relid, result->status);
		ret = -EIO;
		goto teardown;
	}

	/* The callback and rings are in place before anyone sees OPENED. */
	smp_store_release(&ch->state, VIRIDIAN_CHANNEL_OPENED);
	mutex_unlock(&ch->lock);
	kfree(w);

	/*
	 * The host may have written and signalled before we were OPENED,
	 * and it will not signal a non-empty ring again: look once.
	 */
	if (smp_call_function_single(cpu, vmbus_kick_tasklet, ch, 1))
		tasklet_schedule(&ch->tasklet);
	return 0;

leak:
	ch->ring_gpadl.handle = 0;
	vmbus_channel_free_rings(ch, false);
	goto closed;
teardown:
	viridian_gpadl_teardown(ch, &ch->ring_gpadl);
free_rings:
	vmbus_channel_free_rings(ch, true);
closed:
	ch->on_event = NULL;
	ch->context = NULL;
	WRITE_ONCE(ch->state, VIRIDIAN_CHANNEL_OFFERED);
unlock:
	mutex_unlock(&ch->lock);
	kfree(w);
	if (ret)
		vmbus_channel_try_release(ch);
	return ret;
}
EXPORT_SYMBOL_GPL(viridian_channel_open);

static void vmbus_channel_close_one(struct viridian_channel *ch)
{
	struct vmbus_channel_close_channel msg;
	unsigned long flags;
	bool host_done = true;

	mutex_lock(&ch->lock);
	if (ch->state != VIRIDIAN_CHANNEL_OPENED) {
		mutex_unlock(&ch->lock);
		return;
	}

	WRITE_ONCE(ch->state, VIRIDIAN_CHANNEL_CLOSING);
	/* Senders and readers that saw OPENED finish before the rings go. */
	spin_lock_irqsave(&ch->out.lock, flags);
	spin_unlock_irqrestore(&ch->out.lock, flags);
	spin_lock_irqsave(&ch->in.lock, flags);
	spin_unlock_irqrestore(&ch->in.lock, flags);
	/* Interrupts that saw OPENED have scheduled; let that run out. */
	synchronize_rcu();
	tasklet_kill(&ch->tasklet);

	memset(&msg, 0, sizeof(msg));
	msg.header.msgtype = CHANNELMSG_CLOSECHANNEL;
	msg.child_relid = ch->relid;
	if (vmbus_post_msg(&msg, sizeof(msg))) {
		pr_err("relid %u: CLOSECHANNEL failed\n", ch->relid);
		/* Still open on the host, unless a rescind closed it. */
		host_done = READ_ONCE(ch->rescinded);
	}
	/* After a rescind this only forgets the handle: see teardown. */
	if (host_done)
		viridian_gpadl_teardown(ch, &ch->ring_gpadl);
	vmbus_channel_free_rings(ch, host_done);

	ch->on_event = NULL;
	ch->context = NULL;
	WRITE_ONCE(ch->state, VIRIDIAN_CHANNEL_OFFERED);
	mutex_unlock(&ch->lock);

	vmbus_channel_try_release(ch);
}

static void vmbus_close_sub(struct viridian_channel *sub, void *arg)
{
	vmbus_channel_close_one(sub);
}

/* Process context only, never from the channel's own callback. */
void viridian_channel_close(struct viridian_channel *ch)
{
	if (!ch)
		return;
	might_sleep();
	/* As in Linux, closing a primary closes its sub-channels first. */
	if (ch->is_primary)
		vmbus_walk_subs(ch, vmbus_close_sub, NULL);
	vmbus_channel_close_one(ch);
}
EXPORT_SYMBOL_GPL(viridian_channel_close);

void vmbus_channel_force_close(struct viridian_channel *ch)
{
	if (READ_ONCE(ch->state) == VIRIDIAN_CHANNEL_OFFERED)
		return;
	pr_warn("relid %u left open by its driver; closing it\n", ch->relid);
	vmbus_channel_close_one(ch);
}

int vmbus_channel_retarget(struct viridian_channel *ch, unsigned int cpu)
{
	struct vmbus_channel_modifychannel msg;
	const struct vmbus_channel_modifychannel_response *resp;
	u32 version = READ_ONCE(vmbus_conn.version);
	struct vmbus_waiter *w = NULL;
	int ret;

	if (version < VMBUS_VERSION_WIN10_V4_1)
		return -EIO;
	if (cpu >= nr_cpu_ids)
		return -EINVAL;

	/*
	 * The channel lock, then CPU hotplug, as in open: the hotplug side
	 * (vmbus_cpu_offline) takes no channel lock.
	 */
	mutex_lock(&ch->lock);
	cpus_read_lock();
	if (!cpu_online(cpu)) {
		ret = -EINVAL;
		goto unlock;
	}
	/* The host ignores MODIFYCHANNEL for channels that are not open. */
	if (ch->state != VIRIDIAN_CHANNEL_OPENED || READ_ONCE(ch->rescinded)) {
		ret = -EIO;
		goto unlock;
	}
	ret = 0;
	if (cpu == ch->target_cpu)
		goto unlock;

	memset(&msg, 0, sizeof(msg));
	msg.header.msgtype = CHANNELMSG_MODIFYCHANNEL;
	msg.child_relid = ch->relid;
	msg.target_vp = viridian_hv_vp_index(cpu);

	if (version >= VMBUS_VERSION_WIN10_V5_3) {
		/* Only 5.3 hosts confirm; older ones act on it silently. */
		w = kmalloc(sizeof(*w), GFP_KERNEL);
		if (!w) {
			ret = -ENOMEM;
			goto unlock;
		}
		vmbus_waiter_init(w, CHANNELMSG_MODIFYCHANNEL_RESPONSE,
				  ch->relid, 0, ch);
		ret = vmbus_waiter_add(w);
		if (ret)
			goto unlock;
	}
	ret = vmbus_post_msg(&msg, sizeof(msg));
	if (ret) {
		if (w)
			vmbus_waiter_cancel(w);
		goto unlock;
	}
	if (w) {
		ret = vmbus_waiter_wait(w, VMBUS_REQUEST_TIMEOUT);
		if (ret)
			goto unlock;
		resp = (const void *)w->response;
		if (resp->status) {
			pr_err("relid %u: host refused to move it to VP %u: status %#x\n",
			       ch->relid, msg.target_vp, resp->status);
			ret = -EIO;
			goto unlock;
		}
	}
	WRITE_ONCE(ch->target_cpu, cpu);
unlock:
	cpus_read_unlock();
	mutex_unlock(&ch->lock);
	kfree(w);
	return ret;
}

/*
 * Look at every open channel's ring once, wherever we are: after an
 * offline attempt we refused, in case the SynIC of that CPU was already
 * down for a moment and the host's signals in that moment were lost.
 */
static void vmbus_kick_open_channels(struct work_struct *work)
{
	struct viridian_channel *ch;
	unsigned int relid;

	rcu_read_lock();
	for (relid = 0; relid < VMBUS_PROTO_MAX_RELIDS; relid++) {
		ch = rcu_dereference(vmbus_conn.relid_map[relid]);
		/* As in the interrupt path: close() waits for us. */
		if (ch && smp_load_acquire(&ch->state) == VIRIDIAN_CHANNEL_OPENED)
			tasklet_schedule(&ch->tasklet);
	}
	rcu_read_unlock();
}

static DECLARE_WORK(vmbus_kick_work, vmbus_kick_open_channels);

/*
 * CPU hotplug. The host interrupts only a channel's target CPU, and posts
 * messages only to the CPU we connected from; with that CPU's SynIC off,
 * its interrupts are lost and the channel stalls for good. So, as Linux
 * does, such a CPU may not go offline: move the channels away first
 * (channels/<relid>/cpu). A channel being opened counts: open() claims its
 * CPU under the hotplug lock.
 */
static int vmbus_cpu_offline(unsigned int cpu)
{
	struct viridian_channel *ch;
	unsigned int relid, first = 0, busy = 0;

	if (READ_ONCE(vmbus_conn.msg_cpu) == (int)cpu) {
		pr_info("CPU %u receives the VMBus messages: it stays online\n",
			cpu);
		return -EBUSY;
	}
	rcu_read_lock();
	for (relid = 0; relid < VMBUS_PROTO_MAX_RELIDS; relid++) {
		ch = rcu_dereference(vmbus_conn.relid_map[relid]);
		if (!ch || READ_ONCE(ch->state) == VIRIDIAN_CHANNEL_OFFERED ||
		    READ_ONCE(ch->target_cpu) != cpu)
			continue;
		if (!busy++)
			first = relid;
	}
	rcu_read_unlock();
	if (!busy)
		return 0;
	pr_info("CPU %u stays online: %u open channel(s) target it (relid %u first); move them with channels/<relid>/cpu\n",
		cpu, busy, first);
	schedule_work(&vmbus_kick_work);
	return -EBUSY;
}

int vmbus_cpuhp_init(void)
{
	int ret;

	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN,
					"viridian/vmbus:online", NULL,
					vmbus_cpu_offline);
	if (ret < 0)
		return ret;
	vmbus_conn.cpuhp_state = ret;
	return 0;
}

void vmbus_cpuhp_exit(void)
{
	if (vmbus_conn.cpuhp_state > 0)
		cpuhp_remove_state_nocalls(vmbus_conn.cpuhp_state);
	vmbus_conn.cpuhp_state = 0;
	cancel_work_sync(&vmbus_kick_work);
}

int viridian_request_id_get(struct viridian_channel *ch, void *request,
			    u64 *id)
{
	unsigned long flags;
	u32 id32;
	int ret;

	if (!ch || !request || !id)
		return -EINVAL;
	/* Cyclic, so a late completion cannot match a fresh request. */
	xa_lock_irqsave(&ch->requests, flags);
	ret = __xa_alloc_cyclic(&ch->requests, &id32, request,
				XA_LIMIT(1, U32_MAX), &ch->next_request_id,
				GFP_ATOMIC);
	xa_unlock_irqrestore(&ch->requests, flags);
	if (ret < 0)
		return ret;
	*id = id32;
	return 0;
}
EXPORT_SYMBOL_GPL(viridian_request_id_get);

void *viridian_request_id_put(struct viridian_channel *ch, u64 id)
{
	unsigned long flags;
	void *request;

	if (!ch || !id || id > U32_MAX)
		return NULL;
	xa_lock_irqsave(&ch->requests, flags);
	request = __xa_erase(&ch->requests, id);
	xa_unlock_irqrestore(&ch->requests, flags);
	return request;
}
EXPORT_SYMBOL_GPL(viridian_request_id_put);

u32 viridian_vmbus_version(void)
{
	return READ_ONCE(vmbus_conn.version);
}
EXPORT_SYMBOL_GPL(viridian_vmbus_version);

struct viridian_device *viridian_channel_device(struct viridian_channel *ch)
{
	return ch->is_primary ? ch->device : ch->primary->device;
}
EXPORT_SYMBOL_GPL(viridian_channel_device);

u32 viridian_channel_relid(struct viridian_channel *ch)
{
	return ch->relid;
}
EXPORT_SYMBOL_GPL(viridian_channel_relid);

u16 viridian_channel_subchannel_index(struct viridian_channel *ch)
{
	return ch->offer.offer.sub_channel_index;
}
EXPORT_SYMBOL_GPL(viridian_channel_subchannel_index);

unsigned int viridian_channel_target_cpu(struct viridian_channel *ch)
{
	return READ_ONCE(ch->target_cpu);
}
EXPORT_SYMBOL_GPL(viridian_channel_target_cpu);

bool viridian_channel_rescinded(struct viridian_channel *ch)
{
	return READ_ONCE(ch->rescinded);
}
EXPORT_SYMBOL_GPL(viridian_channel_rescinded);

const struct vmbus_channel_offer *
viridian_channel_offer(struct viridian_channel *ch)
{
	return &ch->offer.offer;
}
EXPORT_SYMBOL_GPL(viridian_channel_offer);

void viridian_channel_set_drvdata(struct viridian_channel *ch, void *data)
{
	WRITE_ONCE(ch->drvdata, data);
}
EXPORT_SYMBOL_GPL(viridian_channel_set_drvdata);

void *viridian_channel_get_drvdata(struct viridian_channel *ch)
{
	return READ_ONCE(ch->drvdata);
}
EXPORT_SYMBOL_GPL(viridian_channel_get_drvdata);
