// SPDX-License-Identifier: GPL-2.0
/*
 * Ring-buffer I/O. The index arithmetic is in protocol.c (pure, tested);
 * this file adds the locking, the memory ordering against the host and the
 * decisions about when to interrupt it.
 *
 * Ordering with the host, which runs concurrently on other CPUs:
 *  - Producer (guest-to-host): write packet bytes; write barrier; publish
 *    write_index; full barrier; read interrupt_mask and read_index to
 *    decide on a signal. The full barrier pairs with the host's
 *    "publish read_index / clear interrupt_mask, full barrier, re-read
 *    write_index": one side always sees the other's progress.
 *  - Consumer (host-to-guest): read write_index; read barrier; read the
 *    packet; full barrier; publish read_index; full barrier; read
 *    pending_send_sz.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/smp.h>

#include <viridian/hv.h>
#include "vmbus_private.h"

void vmbus_ring_init(struct vmbus_ring *ring, void *base, u32 bytes)
{
	ring->ctl = base;
	ring->data = (u8 *)base + VMBUS_RING_CONTROL_SIZE;
	ring->size = bytes - VMBUS_RING_CONTROL_SIZE;
	ring->priv_index = 0;
	/* We honour pending_send_sz both ways; tell the host so. */
	ring->ctl->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

void vmbus_signal_host(struct viridian_channel *ch)
{
	const struct vmbus_channel_offer_channel *offer = &ch->offer;
	u16 status;

	atomic64_inc(&ch->events);
	if (vmbus_proto_offer_monitored(offer)) {
		struct hv_monitor_trigger_group *group;

		/*
		 * The host polls monitor page 2 for these bits; it batches
		 * signals instead of taking a hypercall per packet.
		 */
		group = &vmbus_conn.monitor_pages[1]->trigger_group[offer->monitorid /
								    VMBUS_MONITOR_IDS_PER_GROUP];
		set_bit(offer->monitorid % VMBUS_MONITOR_IDS_PER_GROUP,
			(unsigned long *)&group->pending);
		return;
	}
	status = viridian_hv_signal_event(offer->connection_id, 0);
	if (status != HV_STATUS_SUCCESS)
		pr_err_ratelimited("relid %u: signalling connection %u failed: status %#x\n",
				   ch->relid, offer->connection_id, status);
}

static bool vmbus_channel_usable(struct viridian_channel *ch)
{
	/* Acquire pairs with open(): rings and callback are set up first. */
	return smp_load_acquire(&ch->state) == VIRIDIAN_CHANNEL_OPENED;
}

static int vmbus_ring_write(struct viridian_channel *ch,
			    const struct vmbus_proto_chunk *chunks, u32 nchunks,
			    u32 packet_bytes)
{
	struct vmbus_ring *ring = &ch->out;
	u32 old_write, read, next, mask;
	bool signal = false;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&ring->lock, flags);
	if (!vmbus_channel_usable(ch) || READ_ONCE(ch->rescinded)) {
		ret = -ENODEV;
		goto unlock;
	}

	old_write = ring->priv_index;
	/* Acquire: our packet bytes must not land before the host's reads. */
	read = virt_load_acquire(&ring->ctl->read_index);
	ret = vmbus_proto_ring_check_space(old_write, read, ring->size,
					   packet_bytes);
	if (ret == -EBADMSG) {
		pr_err_ratelimited("relid %u: host set read index %u in a %u-byte ring\n",
				   ch->relid, read, ring->size);
		goto unlock;
	}
	if (ret)
		goto unlock;

	next = vmbus_proto_ring_put(ring->data, ring->size, old_write, chunks,
				    nchunks, packet_bytes);
	/* The packet bytes before the index that hands them over. */
	virt_wmb();
	WRITE_ONCE(ring->ctl->write_index, next);
	ring->priv_index = next;

	/* Publish write_index before sampling the host's mask and index. */
	virt_mb();
	mask = READ_ONCE(ring->ctl->interrupt_mask);
	read = READ_ONCE(ring->ctl->read_index);
	signal = vmbus_proto_signal_after_write(old_write, read, mask);
unlock:
	spin_unlock_irqrestore(&ring->lock, flags);
	if (signal)
		vmbus_signal_host(ch);
	return ret;
}

int viridian_channel_send(struct viridian_channel *ch, const void *data,
			  u32 len, u64 trans_id, enum vmbus_packet_type type,
			  u16 flags)
{
	struct vmpacket_descriptor desc;
	struct vmbus_proto_chunk chunks[2];
	u32 packet_bytes;
	int ret;

	if (!ch || (len && !data))
		return -EINVAL;
	ret = vmbus_proto_build_desc(&desc, type, flags, trans_id, sizeof(desc),
				     len, &packet_bytes);
	if (ret)
		return ret;
	chunks[0].data = &desc;
	chunks[0].len = sizeof(desc);
	chunks[1].data = data;
	chunks[1].len = len;
	return vmbus_ring_write(ch, chunks, ARRAY_SIZE(chunks), packet_bytes);
}
EXPORT_SYMBOL_GPL(viridian_channel_send);

int viridian_channel_send_gpa_direct(struct viridian_channel *ch,
				     const void *ranges, u32 ranges_bytes,
				     u32 range_count, const void *data,
				     u32 len, u64 trans_id)
{
	struct vmbus_packet_gpa_direct hdr;
	struct vmbus_proto_chunk chunks[3];
	u32 packet_bytes;
	int ret;

	if (!ch || !ranges || !range_count || (len && !data))
		return -EINVAL;
	/* Each range is 8 bytes plus 8 per PFN, so whole quadwords. */
	if (ranges_bytes & 7 ||
	    ranges_bytes / sizeof(struct vmbus_packet_gpa_range) < range_count)
		return -EINVAL;
	if (ranges_bytes > VMBUS_MAX_PACKET_SIZE - sizeof(hdr))
		return -EINVAL;

	ret = vmbus_proto_build_desc(&hdr.d, VM_PKT_DATA_USING_GPA_DIRECT,
				     VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
				     trans_id, sizeof(hdr) + ranges_bytes, len,
				     &packet_bytes);
	if (ret)
		return ret;
	hdr.reserved = 0;
	hdr.range_count = range_count;
	chunks[0].data = &hdr;
	chunks[0].len = sizeof(hdr);
	chunks[1].data = ranges;
	chunks[1].len = ranges_bytes;
	chunks[2].data = data;
	chunks[2].len = len;
	return vmbus_ring_write(ch, chunks, ARRAY_SIZE(chunks), packet_bytes);
}
EXPORT_SYMBOL_GPL(viridian_channel_send_gpa_direct);

static void vmbus_channel_mark_broken(struct viridian_channel *ch,
				      const char *why, u32 write_index)
{
	if (!ch->broken)
		pr_err("relid %u: %s (write index %u, read index %u, ring %u bytes); channel stopped\n",
		       ch->relid, why, write_index, ch->in.priv_index,
		       ch->in.size);
	WRITE_ONCE(ch->broken, true);
}

static int vmbus_ring_read(struct viridian_channel *ch, void *buf, u32 buflen,
			   u32 *len, u64 *trans_id, bool raw)
{
	struct vmbus_ring *ring = &ch->in;
	struct vmpacket_descriptor desc;
	u32 read, write, packet_bytes, skip, need, from, next;
	u32 pending, free, freed;
	bool signal = false;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&ring->lock, flags);
	if (!vmbus_channel_usable(ch)) {
		ret = -ENODEV;
		goto unlock;
	}
	if (ch->broken) {
		ret = -EBADMSG;
		goto unlock;
	}

	read = ring->priv_index;
	write = READ_ONCE(ring->ctl->write_index);
	if (!vmbus_proto_ring_index_ok(READ_ONCE(ring->ctl->read_index),
				       ring->size)) {
		vmbus_channel_mark_broken(ch, "host overwrote the read index",
					  write);
		ret = -EBADMSG;
		goto unlock;
	}
	/* The packet bytes were written before write_index was published. */
	virt_rmb();
	ret = vmbus_proto_ring_peek(ring->data, ring->size, write, read, &desc,
				    &packet_bytes);
	if (ret == -EAGAIN)
		goto unlock;
	if (ret) {
		vmbus_channel_mark_broken(ch, "malformed packet or index", write);
		goto unlock;
	}

	skip = raw ? 0 : desc.offset8 * 8u;
	need = packet_bytes - skip;
	*len = need;
	*trans_id = desc.trans_id;
	if (need > buflen) {
		ret = -ENOBUFS;
		goto unlock;
	}
	from = read + skip;
	if (from >= ring->size)
		from -= ring->size;
	vmbus_ring_copy_out(ring->data, ring->size, from, buf, need);

	next = vmbus_proto_ring_advance(read, ring->size, packet_bytes);
	/* Finish reading the packet before the host may overwrite it. */
	virt_mb();
	WRITE_ONCE(ring->ctl->read_index, next);
	ring->priv_index = next;

	if (READ_ONCE(ring->ctl->feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ) {
		/* Publish read_index before looking for a blocked producer. */
		virt_mb();
		pending = READ_ONCE(ring->ctl->pending_send_sz);
		if (pending) {
			/* pending_send_sz before the write index it relates to. */
			virt_rmb();
			write = READ_ONCE(ring->ctl->write_index);
			if (vmbus_proto_ring_index_ok(write, ring->size)) {
				free = vmbus_ring_bytes_to_write(write, next, ring->size);
				freed = vmbus_ring_packet_footprint(packet_bytes);
				signal = vmbus_proto_signal_after_read(free, freed,
								       pending);
			}
		}
	}
	ret = 0;
unlock:
	spin_unlock_irqrestore(&ring->lock, flags);
	if (signal)
		vmbus_signal_host(ch);
	return ret;
}

int viridian_channel_recv(struct viridian_channel *ch, void *buf, u32 buflen,
			  u32 *len, u64 *trans_id)
{
	if (!ch || !len || !trans_id || (buflen && !buf))
		return -EINVAL;
	return vmbus_ring_read(ch, buf, buflen, len, trans_id, false);
}
EXPORT_SYMBOL_GPL(viridian_channel_recv);

int viridian_channel_recv_raw(struct viridian_channel *ch, void *buf,
			      u32 buflen, u32 *len, u64 *trans_id)
{
	if (!ch || !len || !trans_id || (buflen && !buf))
		return -EINVAL;
	return vmbus_ring_read(ch, buf, buflen, len, trans_id, true);
}
EXPORT_SYMBOL_GPL(viridian_channel_recv_raw);

u32 viridian_channel_send_space(struct viridian_channel *ch)
{
	struct vmbus_ring_info info;

	if (!ch || vmbus_ring_snapshot(ch, true, &info))
		return 0;
	return info.bytes_to_write;
}
EXPORT_SYMBOL_GPL(viridian_channel_send_space);

int vmbus_ring_snapshot(struct viridian_channel *ch, bool outbound,
			struct vmbus_ring_info *info)
{
	struct vmbus_ring *ring = outbound ? &ch->out : &ch->in;
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&ring->lock, flags);
	if (!vmbus_channel_usable(ch)) {
		ret = -EINVAL;
		goto unlock;
	}
	info->read_index = READ_ONCE(ring->ctl->read_index);
	info->write_index = READ_ONCE(ring->ctl->write_index);
	info->interrupt_mask = READ_ONCE(ring->ctl->interrupt_mask);
	/* Host-written indices are shown as they are, but never computed on. */
	if (vmbus_proto_ring_index_ok(info->read_index, ring->size) &&
	    vmbus_proto_ring_index_ok(info->write_index, ring->size)) {
		info->bytes_to_read = vmbus_ring_bytes_to_read(info->write_index,
							       info->read_index,
							       ring->size);
		info->bytes_to_write = ring->size - info->bytes_to_read;
	} else {
		info->bytes_to_read = 0;
		info->bytes_to_write = 0;
	}
unlock:
	spin_unlock_irqrestore(&ring->lock, flags);
	return ret;
}

static bool vmbus_ring_has_data(struct vmbus_ring *ring)
{
	return READ_ONCE(ring->ctl->write_index) != READ_ONCE(ring->priv_index);
}

/*
 * Softirq on the CPU the host interrupted. The mask tells the host we are
 * reading anyway, so it need not signal for each packet; after clearing it
 * a packet may have slipped in unsignalled, hence the re-check.
 */
void vmbus_channel_tasklet(struct tasklet_struct *t)
{
	struct viridian_channel *ch = from_tasklet(ch, t, tasklet);
	struct vmbus_ring_control *ctl;

	if (!vmbus_channel_usable(ch))
		return;
	ctl = ch->in.ctl;

	WRITE_ONCE(ctl->interrupt_mask, 1);
	/* The host sees the mask before we look at the ring. */
	virt_mb();
	ch->on_event(ch->context);
	WRITE_ONCE(ctl->interrupt_mask, 0);
	/* Unmask before the last look, or a packet could go unsignalled. */
	virt_mb();

	if (!READ_ONCE(ch->broken) && vmbus_ring_has_data(&ch->in))
		tasklet_schedule(t);
}
