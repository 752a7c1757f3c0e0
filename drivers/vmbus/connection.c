// SPDX-License-Identifier: GPL-2.0
/*
 * The VMBus connection: the SynIC interrupt handler, host messages and the
 * requests that wait for them, version negotiation and unload.
 *
 * Event flags are scanned in hard-IRQ context (that only schedules channel
 * tasklets). Messages leave the SynIC slot in a per-CPU tasklet, soon
 * enough for the host to deliver the next one, and where allocating is
 * allowed even on PREEMPT_RT (the hard-IRQ handler of the callback vector
 * may not allocate there); they are handled, in arrival order, on an
 * ordered workqueue. Nothing on that workqueue may wait for
 * another host message, or the queue would wait for itself: device
 * registration and sub-channel hand-off therefore run on their own queues.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include <viridian/hv.h>
#include "vmbus_private.h"

struct vmbus_connection vmbus_conn;

/* HvPostMessage retries: about two seconds before giving up. */
#define VMBUS_POST_RETRIES	120
#define VMBUS_POST_BACKOFF_MIN	50	/* microseconds */
#define VMBUS_POST_BACKOFF_MAX	20000

#define VMBUS_MSG_POOL_RESERVE	16

/* Crash unload: how long to poll for UNLOAD_RESPONSE, in milliseconds. */
#define VMBUS_CRASH_UNLOAD_POLL_MS	10000

static DEFINE_PER_CPU(struct tasklet_struct, vmbus_msg_tasklet);

static int vmbus_post_msg_to(u32 connection_id, const void *msg, u32 size)
{
	const struct vmbus_channel_message_header *hdr = msg;
	unsigned int backoff = VMBUS_POST_BACKOFF_MIN;
	unsigned int tries;
	u16 status;

	for (tries = 0; tries < VMBUS_POST_RETRIES; tries++) {
		status = viridian_hv_post_message(connection_id, HVMSG_VMBUS,
						  msg, size);
		switch (status) {
		case HV_STATUS_SUCCESS:
			return 0;
		case HV_STATUS_INSUFFICIENT_BUFFERS:
		case HV_STATUS_INSUFFICIENT_MEMORY:
			/* The host's queue is full: it drains on its own. */
			break;
		case HV_STATUS_INVALID_CONNECTION_ID:
			return -ECONNREFUSED;
		default:
			pr_err_ratelimited("posting message type %u to connection %u failed: status %#x\n",
					   hdr->msgtype, connection_id, status);
			return -EIO;
		}
		usleep_range(backoff, backoff * 2);
		backoff = min(backoff * 2, VMBUS_POST_BACKOFF_MAX);
	}
	pr_err_ratelimited("host message queue stayed full; message type %u dropped\n",
			   hdr->msgtype);
	return -ETIMEDOUT;
}

/* Post a channel message to the negotiated message connection. */
int vmbus_post_msg(const void *msg, u32 size)
{
	return vmbus_post_msg_to(READ_ONCE(vmbus_conn.msg_conn_id), msg, size);
}

void vmbus_waiter_init(struct vmbus_waiter *w, u32 response_type, u32 relid,
		       u32 key, struct viridian_channel *ch)
{
	INIT_LIST_HEAD(&w->node);
	w->response_type = response_type;
	w->relid = relid;
	w->key = key;
	w->channel = ch;
	init_completion(&w->done);
	w->queued = false;
	w->status = -EINPROGRESS;
	w->response_size = 0;
}

/*
 * Queue a waiter before its request is posted, so the response cannot
 * overtake it. A waiter bound to a rescinded channel is refused: the host
 * answers nothing on such a channel. The rescind handler sets the flag
 * under the same lock, so either it sees this waiter or we see the flag.
 */
int vmbus_waiter_add(struct vmbus_waiter *w)
{
	int ret = 0;

	spin_lock(&vmbus_conn.waiters_lock);
	if (w->channel && w->channel->rescinded) {
		ret = -ENODEV;
	} else {
		list_add_tail(&w->node, &vmbus_conn.waiters);
		w->queued = true;
	}
	spin_unlock(&vmbus_conn.waiters_lock);
	return ret;
}

void vmbus_waiter_cancel(struct vmbus_waiter *w)
{
	spin_lock(&vmbus_conn.waiters_lock);
	if (w->queued) {
		list_del(&w->node);
		w->queued = false;
	}
	spin_unlock(&vmbus_conn.waiters_lock);
}

/*
 * Returns 0 once the response is in w->response, -ENODEV if the channel
 * was rescinded meanwhile, -ETIMEDOUT if the host stayed silent.
 */
int vmbus_waiter_wait(struct vmbus_waiter *w, unsigned long timeout)
{
	int ret;

	wait_for_completion_timeout(&w->done, timeout);

	spin_lock(&vmbus_conn.waiters_lock);
	if (w->queued) {
		/* Still queued: no answer came, whatever the wait returned. */
		list_del(&w->node);
		w->queued = false;
		ret = -ETIMEDOUT;
	} else {
		ret = w->status;
	}
	spin_unlock(&vmbus_conn.waiters_lock);
	return ret;
}

void vmbus_wake_channel_waiters(struct viridian_channel *ch)
{
	struct vmbus_waiter *w, *tmp;

	lockdep_assert_held(&vmbus_conn.waiters_lock);
	list_for_each_entry_safe(w, tmp, &vmbus_conn.waiters, node) {
		if (w->channel != ch)
			continue;
		list_del(&w->node);
		w->queued = false;
		w->status = -ENODEV;
		complete(&w->done);
	}
}

static const char *vmbus_msg_name(u32 msgtype)
{
	switch (msgtype) {
	case CHANNELMSG_OPENCHANNEL_RESULT:
		return "OPENCHANNEL_RESULT";
	case CHANNELMSG_GPADL_CREATED:
		return "GPADL_CREATED";
	case CHANNELMSG_GPADL_TORNDOWN:
		return "GPADL_TORNDOWN";
	case CHANNELMSG_VERSION_RESPONSE:
		return "VERSION_RESPONSE";
	case CHANNELMSG_UNLOAD_RESPONSE:
		return "UNLOAD_RESPONSE";
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		return "MODIFYCHANNEL_RESPONSE";
	default:
		return "message";
	}
}

/*
 * Hand a response to the request that waits for it. A response nobody
 * asked for (a stale or invented relid, handle or open ID) is dropped.
 */
static void vmbus_complete_waiter(u32 msgtype, bool match_relid, u32 relid,
				  bool match_key, u32 key,
				  const void *payload, u32 size)
{
	struct vmbus_waiter *w;
	bool found = false;

	spin_lock(&vmbus_conn.waiters_lock);
	list_for_each_entry(w, &vmbus_conn.waiters, node) {
		if (w->response_type != msgtype)
			continue;
		if (match_relid && w->relid != relid)
			continue;
		if (match_key && w->key != key)
			continue;
		list_del(&w->node);
		w->queued = false;
		memcpy(w->response, payload, size);
		w->response_size = size;
		w->status = 0;
		complete(&w->done);
		found = true;
		break;
	}
	spin_unlock(&vmbus_conn.waiters_lock);

	if (!found)
		pr_err_ratelimited("unsolicited %s (relid %u, id %u) dropped\n",
				   vmbus_msg_name(msgtype), relid, key);
}

static void vmbus_msg_work(struct work_struct *work)
{
	struct vmbus_msg_item *item = container_of(work, struct vmbus_msg_item, work);
	const void *p = item->payload;
	u32 msgtype = 0;
	int ret;

	ret = vmbus_proto_check_host_msg(p, item->size, &msgtype);
	if (ret) {
		pr_err_ratelimited("malformed host message (type %u, %u bytes) dropped\n",
				   msgtype, item->size);
		goto out;
	}

	switch (msgtype) {
	case CHANNELMSG_OFFERCHANNEL:
		vmbus_handle_offer(p);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		vmbus_handle_rescind(p);
		break;
	case CHANNELMSG_ALLOFFERS_DELIVERED:
		vmbus_handle_all_offers_delivered();
		break;
	case CHANNELMSG_VERSION_RESPONSE:
	case CHANNELMSG_UNLOAD_RESPONSE:
		vmbus_complete_waiter(msgtype, false, 0, false, 0, p, item->size);
		break;
	case CHANNELMSG_OPENCHANNEL_RESULT: {
		const struct vmbus_channel_open_result *r = p;

		vmbus_complete_waiter(msgtype, true, r->child_relid, true,
				      r->openid, p, item->size);
		break;
	}
	case CHANNELMSG_GPADL_CREATED: {
		const struct vmbus_channel_gpadl_created *r = p;

		vmbus_complete_waiter(msgtype, true, r->child_relid, true,
				      r->gpadl, p, item->size);
		break;
	}
	case CHANNELMSG_GPADL_TORNDOWN: {
		const struct vmbus_channel_gpadl_torndown *r = p;

		vmbus_complete_waiter(msgtype, false, 0, true, r->gpadl, p,
				      item->size);
		break;
	}
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE: {
		const struct vmbus_channel_modifychannel_response *r = p;

		vmbus_complete_waiter(msgtype, true, r->child_relid, false, 0,
				      p, item->size);
		break;
	}
	default:
		/* check_host_msg() admits only the types above. */
		break;
	}
out:
	mempool_free(item, vmbus_conn.msg_pool);
}

/* Hard IRQ: an event flag for @relid was set by the host. */
static void vmbus_schedule_channel(u32 relid)
{
	struct viridian_channel *ch;

	ch = rcu_dereference(vmbus_conn.relid_map[relid]);
	if (!ch) {
		pr_warn_ratelimited("event for unknown relid %u ignored\n", relid);
		return;
	}
	atomic64_inc(&ch->interrupts);
	/*
	 * Only an open channel has a callback. close() flips the state and
	 * then waits an RCU grace period and kills the tasklet, so no
	 * tasklet is scheduled behind its back.
	 */
	if (smp_load_acquire(&ch->state) == VIRIDIAN_CHANNEL_OPENED)
		tasklet_schedule(&ch->tasklet);
}

static void vmbus_scan_events(struct hv_synic_event_flags *flags)
{
	unsigned long *words = (unsigned long *)flags->flags;
	unsigned int w, bit;
	unsigned long bits;

	rcu_read_lock();
	for (w = 0; w < VMBUS_PROTO_MAX_RELIDS / BITS_PER_LONG; w++) {
		if (!READ_ONCE(words[w]))
			continue;
		/* Take the whole word: the host sets bits concurrently. */
		bits = xchg(&words[w], 0UL);
		for_each_set_bit(bit, &bits, BITS_PER_LONG)
			vmbus_schedule_channel(w * BITS_PER_LONG + bit);
	}
	rcu_read_unlock();
}

static void vmbus_take_message(struct hv_message *msg)
{
	struct vmbus_msg_item *item;
	u32 type;
	u8 size;

	type = READ_ONCE(msg->header.message_type);
	if (type == HVMSG_NONE)
		return;
	/* The host fills the slot, then sets the type: read in reverse. */
	virt_rmb();
	size = READ_ONCE(msg->header.payload_size);

	if (type != HVMSG_VMBUS || size > HV_MESSAGE_PAYLOAD_BYTES) {
		pr_err_ratelimited("SynIC message type %#x, %u bytes, on the VMBus SINT dropped\n",
				   type, size);
		goto done;
	}

	item = mempool_alloc(vmbus_conn.msg_pool, GFP_ATOMIC);
	if (!item) {
		pr_err_ratelimited("out of memory: host message dropped\n");
		goto done;
	}
	item->size = size;
	memcpy(item->payload, msg->payload, size);
	INIT_WORK(&item->work, vmbus_msg_work);
	queue_work(vmbus_conn.msg_wq, &item->work);
done:
	viridian_synic_message_done(msg);
}

/* Softirq, on the CPU whose message slot the interrupt was for. */
static void vmbus_msg_tasklet_fn(struct tasklet_struct *unused)
{
	struct hv_message_page *messages = viridian_synic_message_page();

	if (messages)
		vmbus_take_message(&messages->sint_message[VMBUS_MESSAGE_SINT]);
}

/* The SynIC handler: hard IRQ, on the CPU the host interrupted. */
void vmbus_isr(void)
{
	struct hv_synic_event_flags_page *events = viridian_synic_event_page();
	struct hv_message_page *messages = viridian_synic_message_page();

	if (events)
		vmbus_scan_events(&events->sintevent_flags[VMBUS_MESSAGE_SINT]);
	if (messages &&
	    READ_ONCE(messages->sint_message[VMBUS_MESSAGE_SINT].header.message_type) !=
	    HVMSG_NONE)
		tasklet_schedule(this_cpu_ptr(&vmbus_msg_tasklet));
}

/* No message tasklet runs, or is queued, once this returns. */
void vmbus_kill_msg_tasklets(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		tasklet_kill(per_cpu_ptr(&vmbus_msg_tasklet, cpu));
}

/*
 * Crash (kdump): post UNLOAD and poll every CPU's message slot for the
 * answer, with interrupts off and the other CPUs stopped: nothing here may
 * sleep, lock or allocate. Other messages are discarded on the way; a slot
 * of another CPU cannot be EOMed from here, so the host may hold back what
 * it queued behind it, which the kdump kernel does not need.
 */
static void vmbus_crash_unload(void)
{
	struct vmbus_channel_message_header msg = {
		.msgtype = CHANNELMSG_UNLOAD,
	};
	unsigned int ms, cpu;
	u16 status;

	status = viridian_hv_post_message(READ_ONCE(vmbus_conn.msg_conn_id),
					  HVMSG_VMBUS, &msg, sizeof(msg));
	if (status != HV_STATUS_SUCCESS) {
		pr_emerg("crash: UNLOAD not posted (status %#x)\n", status);
		return;
	}
	for (ms = 0; ms < VMBUS_CRASH_UNLOAD_POLL_MS; ms++) {
		for_each_present_cpu(cpu) {
			struct hv_message_page *page = viridian_synic_message_page_of(cpu);
			struct hv_message *slot;
			u32 msgtype;

			if (!page)
				continue;
			slot = &page->sint_message[VMBUS_MESSAGE_SINT];
			if (READ_ONCE(slot->header.message_type) == HVMSG_NONE)
				continue;
			/* The type is set last: read the payload after it. */
			virt_rmb();
			msgtype = ((struct vmbus_channel_message_header *)slot->payload)->msgtype;
			viridian_synic_message_done(slot);
			if (msgtype == CHANNELMSG_UNLOAD_RESPONSE) {
				pr_emerg("crash: host acknowledged UNLOAD\n");
				return;
			}
		}
		mdelay(1);
	}
	pr_emerg("crash: no UNLOAD_RESPONSE from the host\n");
}

/* viridian_hv's kexec and crash hook. */
void vmbus_unload_for_next_kernel(bool crash)
{
	if (!READ_ONCE(vmbus_conn.connected))
		return;
	if (crash) {
		vmbus_crash_unload();
		return;
	}
	pr_info("kexec: unloading VMBus\n");
	vmbus_unload();
}

int vmbus_connect(u32 max_version)
{
	struct vmbus_channel_initiate_contact msg;
	const struct vmbus_channel_version_response *resp;
	struct vmbus_waiter *w;
	u32 version = 0, conn_id;
	unsigned int cpu;
	int ret = -EPROTONOSUPPORT;

	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;

	/* The host posts every message to this CPU: it must stay online. */
	cpus_read_lock();
	cpu = cpumask_first(cpu_online_mask);
	WRITE_ONCE(vmbus_conn.msg_cpu, cpu);
	cpus_read_unlock();

	while ((version = vmbus_proto_next_version(version, max_version))) {
		vmbus_proto_build_initiate_contact(&msg, version,
						   viridian_hv_vp_index(cpu),
						   virt_to_phys(vmbus_conn.monitor_pages[0]),
						   virt_to_phys(vmbus_conn.monitor_pages[1]));
		vmbus_waiter_init(w, CHANNELMSG_VERSION_RESPONSE, 0, 0, NULL);
		ret = vmbus_waiter_add(w);
		if (ret)
			break;
		vmbus_conn.pages_shared = true;
		ret = vmbus_post_msg_to(vmbus_proto_contact_connection_id(version),
					&msg, sizeof(msg));
		if (ret == -ECONNREFUSED) {
			/* Hosts before 5.0 know no connection ID 4. */
			vmbus_waiter_cancel(w);
			vmbus_conn.pages_shared = false;
			pr_info("host has no contact connection for %u.%u; trying older versions\n",
				VMBUS_VERSION_MAJOR(version),
				VMBUS_VERSION_MINOR(version));
			continue;
		}
		if (ret) {
			vmbus_waiter_cancel(w);
			break;
		}
		ret = vmbus_waiter_wait(w, VMBUS_CONTACT_TIMEOUT);
		if (ret) {
			pr_err("no answer to the offer of VMBus %u.%u\n",
			       VMBUS_VERSION_MAJOR(version),
			       VMBUS_VERSION_MINOR(version));
			break;
		}
		resp = (const void *)w->response;
		ret = vmbus_proto_parse_version_response(resp, version, &conn_id);
		if (ret == -EPROTONOSUPPORT) {
			/* A refusal leaves the host without our pages. */
			vmbus_conn.pages_shared = false;
			continue;
		}
		if (ret) {
			pr_err("inconsistent answer to VMBus %u.%u (state %u, connection %u)\n",
			       VMBUS_VERSION_MAJOR(version),
			       VMBUS_VERSION_MINOR(version),
			       resp->connection_state, resp->msg_conn_id);
			break;
		}
		WRITE_ONCE(vmbus_conn.msg_conn_id, conn_id);
		WRITE_ONCE(vmbus_conn.version, version);
		vmbus_conn.connected = true;
		pr_info("VMBus %u.%u negotiated; messages go to connection %u\n",
			VMBUS_VERSION_MAJOR(version), VMBUS_VERSION_MINOR(version),
			conn_id);
		kfree(w);
		return 0;
	}

	if (!version) {
		pr_err("the host accepted none of our VMBus versions up to %u.%u\n",
		       VMBUS_VERSION_MAJOR(max_version),
		       VMBUS_VERSION_MINOR(max_version));
		ret = -EPROTONOSUPPORT;
	}
	kfree(w);
	return ret;
}

/*
 * Tell the host we are leaving. Until it acknowledges, it may still write
 * the monitor pages, so they are only freed after UNLOAD_RESPONSE.
 */
void vmbus_unload(void)
{
	struct vmbus_channel_message_header msg = {
		.msgtype = CHANNELMSG_UNLOAD,
	};
	struct vmbus_waiter w;
	int ret;

	if (!vmbus_conn.connected)
		return;

	vmbus_waiter_init(&w, CHANNELMSG_UNLOAD_RESPONSE, 0, 0, NULL);
	ret = vmbus_waiter_add(&w);
	if (!ret) {
		ret = vmbus_post_msg(&msg, sizeof(msg));
		if (ret)
			vmbus_waiter_cancel(&w);
		else
			ret = vmbus_waiter_wait(&w, VMBUS_UNLOAD_TIMEOUT);
	}
	if (ret)
		pr_err("host did not acknowledge UNLOAD (%d); keeping shared pages\n",
		       ret);
	else
		vmbus_conn.pages_shared = false;
	vmbus_conn.connected = false;
	/* No more messages: any CPU may go. */
	WRITE_ONCE(vmbus_conn.msg_cpu, -1);
}

int vmbus_connection_init(void)
{
	unsigned int i;

	memset(&vmbus_conn, 0, sizeof(vmbus_conn));
	mutex_init(&vmbus_conn.channel_mutex);
	mutex_init(&vmbus_conn.sysfs_mutex);
	spin_lock_init(&vmbus_conn.waiters_lock);
	INIT_LIST_HEAD(&vmbus_conn.channels);
	INIT_LIST_HEAD(&vmbus_conn.waiters);
	vmbus_conn.last_cpu = -1;
	vmbus_conn.msg_cpu = -1;
	/* Linux's first handle; any non-zero start would do. */
	atomic_set(&vmbus_conn.next_gpadl, 0xe1e10);

	for_each_possible_cpu(i)
		tasklet_setup(per_cpu_ptr(&vmbus_msg_tasklet, i), vmbus_msg_tasklet_fn);

	vmbus_conn.msg_pool = mempool_create_kmalloc_pool(VMBUS_MSG_POOL_RESERVE,
							  sizeof(struct vmbus_msg_item));
	if (!vmbus_conn.msg_pool)
		goto fail;
	vmbus_conn.msg_wq = alloc_ordered_workqueue("vmbus_msg", 0);
	vmbus_conn.dev_wq = alloc_ordered_workqueue("vmbus_dev", 0);
	vmbus_conn.sub_wq = alloc_ordered_workqueue("vmbus_sub", 0);
	if (!vmbus_conn.msg_wq || !vmbus_conn.dev_wq || !vmbus_conn.sub_wq)
		goto fail;

	for (i = 0; i < ARRAY_SIZE(vmbus_conn.monitor_pages); i++) {
		vmbus_conn.monitor_pages[i] =
			(void *)get_zeroed_page(GFP_KERNEL);
		if (!vmbus_conn.monitor_pages[i])
			goto fail;
	}
	return 0;

fail:
	vmbus_connection_exit();
	return -ENOMEM;
}

void vmbus_connection_exit(void)
{
	unsigned int i;

	if (vmbus_conn.sub_wq)
		destroy_workqueue(vmbus_conn.sub_wq);
	if (vmbus_conn.dev_wq)
		destroy_workqueue(vmbus_conn.dev_wq);
	if (vmbus_conn.msg_wq)
		destroy_workqueue(vmbus_conn.msg_wq);
	vmbus_conn.sub_wq = NULL;
	vmbus_conn.dev_wq = NULL;
	vmbus_conn.msg_wq = NULL;
	mempool_destroy(vmbus_conn.msg_pool);
	vmbus_conn.msg_pool = NULL;

	for (i = 0; i < ARRAY_SIZE(vmbus_conn.monitor_pages); i++) {
		/*
		 * A host that never acknowledged UNLOAD may still write
		 * these pages: leaking them is the safe choice.
		 */
		if (vmbus_conn.pages_shared)
			continue;
		free_page((unsigned long)vmbus_conn.monitor_pages[i]);
		vmbus_conn.monitor_pages[i] = NULL;
	}
}
