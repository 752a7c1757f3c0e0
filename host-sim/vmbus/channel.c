// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The host end of a channel's rings. The ordering rules are those of
 * wire/ring.h, mirrored from the guest's side:
 *
 *   producer (out ring): write packet bytes and trailer, release-store
 *   write_index, full fence, read interrupt_mask, then signal only if the
 *   mask is clear and the ring was empty before this packet (the guest's
 *   read_index equals our old write_index).
 *
 *   consumer (in ring): acquire-load write_index, read bytes, release-store
 *   read_index, full fence, read pending_send_sz, then signal only if this
 *   read moved the free space across the producer's threshold.
 *
 * Host-owned fields (in.read_index, in.interrupt_mask, out.write_index,
 * out.pending_send_sz) are kept privately and only written to the ring; a
 * value the guest scribbles over them is never read back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmbus/vmbus_internal.h"

/* Fields of a packed ring control page, without a packed-member pointer. */
#define RING_FIELD(ctrl, field) \
	((uint32_t *)((uint8_t *)(ctrl) + offsetof(struct vmbus_ring_control, field)))

static uint32_t load_acquire(struct vmbus_ring_control *c, size_t off)
{
	return __atomic_load_n((uint32_t *)((uint8_t *)c + off),
			       __ATOMIC_ACQUIRE);
}

#define RING_LOAD_ACQ(ctrl, field) \
	load_acquire((ctrl), offsetof(struct vmbus_ring_control, field))
#define RING_LOAD(ctrl, field) \
	__atomic_load_n(RING_FIELD(ctrl, field), __ATOMIC_RELAXED)
#define RING_STORE(ctrl, field, v) \
	__atomic_store_n(RING_FIELD(ctrl, field), (v), __ATOMIC_RELAXED)
#define RING_STORE_REL(ctrl, field, v) \
	__atomic_store_n(RING_FIELD(ctrl, field), (v), __ATOMIC_RELEASE)

static const char *channel_name(const struct channel *ch)
{
	return ch->dev && ch->dev->ops && ch->dev->ops->name ?
	       ch->dev->ops->name : "?";
}

int channel_init(struct channel *ch)
{
	ch->monitor_id = -1;
	return pthread_mutex_init(&ch->send_lock, NULL) ? -ENOMEM : 0;
}

void channel_fini(struct channel *ch)
{
	channel_unmap_rings(ch);
	pthread_mutex_destroy(&ch->send_lock);
}

void channel_mark_broken(struct channel *ch, const char *why)
{
	int expected = 0;

	if (__atomic_compare_exchange_n(&ch->broken, &expected, 1, false,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		vmbus_log(ch->srv, "channel %u (%s) broken: %s", ch->relid,
			  channel_name(ch), why);
}

void channel_log(struct channel *ch, const char *fmt, ...)
{
	char line[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vmbus_log(ch->srv, "channel %u (%s): %s", ch->relid, channel_name(ch),
		  line);
}

bool channel_is_broken(const struct channel *ch)
{
	return __atomic_load_n(&ch->broken, __ATOMIC_ACQUIRE) != 0;
}

static bool ring_index_ok(uint32_t index, uint32_t size)
{
	return index < size && (index & 7u) == 0;
}

static int map_one(struct channel *ch, struct ring_map *r,
		   const uint64_t *pfns, size_t pages)
{
	const struct vmbus_server_host_ops *ops = &ch->srv->ops;

	r->view = ops->map_pfns(ch->srv->ops_ctx, pfns, pages, pages - 1);
	if (!r->view)
		return -EFAULT;
	r->pages = pages;
	r->mirror = pages - 1;
	r->ctrl = r->view;
	r->data = (uint8_t *)r->view + VMBUS_RING_CONTROL_SIZE;
	r->size = (uint32_t)((pages - 1) * VIRIDIAN_PAGE_SIZE);
	return 0;
}

static void unmap_one(struct channel *ch, struct ring_map *r)
{
	if (r->view)
		ch->srv->ops.unmap(ch->srv->ops_ctx, r->view, r->pages,
				   r->mirror);
	memset(r, 0, sizeof(*r));
}

int channel_map_rings(struct channel *ch, const uint64_t *pfns,
		      uint32_t npfns, uint32_t out_offset)
{
	struct ring_map in = { 0 }, out = { 0 };
	uint32_t in_read, out_write;
	int rc;

	if (out_offset < 2 || out_offset > npfns || npfns - out_offset < 2)
		return -EINVAL;

	rc = map_one(ch, &in, pfns, out_offset);
	if (rc)
		return rc;
	rc = map_one(ch, &out, pfns + out_offset, npfns - out_offset);
	if (rc) {
		unmap_one(ch, &in);
		return rc;
	}

	/*
	 * The guest initialises both rings before it opens; take the indices
	 * we own from there (normally zero) if they are sane.
	 */
	in_read = RING_LOAD(in.ctrl, read_index);
	out_write = RING_LOAD(out.ctrl, write_index);
	if (!ring_index_ok(in_read, in.size) ||
	    !ring_index_ok(out_write, out.size)) {
		unmap_one(ch, &out);
		unmap_one(ch, &in);
		return -EINVAL;
	}

	RING_STORE(in.ctrl, interrupt_mask, 0);
	RING_STORE(out.ctrl, pending_send_sz, 0);
	__atomic_fetch_or(RING_FIELD(in.ctrl, feature_bits),
			  VMBUS_RING_FEAT_PENDING_SEND_SZ, __ATOMIC_RELAXED);
	__atomic_fetch_or(RING_FIELD(out.ctrl, feature_bits),
			  VMBUS_RING_FEAT_PENDING_SEND_SZ, __ATOMIC_RELAXED);

	pthread_mutex_lock(&ch->send_lock);
	ch->in = in;
	ch->out = out;
	ch->in_read = in_read;
	ch->out_write = out_write;
	ch->peek_bytes = 0;
	ch->out_pending = false;
	__atomic_store_n(&ch->broken, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ch->send_lock);
	return 0;
}

void channel_unmap_rings(struct channel *ch)
{
	pthread_mutex_lock(&ch->send_lock);
	unmap_one(ch, &ch->in);
	unmap_one(ch, &ch->out);
	ch->peek_bytes = 0;
	pthread_mutex_unlock(&ch->send_lock);
}

void channel_signal_guest(struct channel *ch)
{
	uint32_t vp = __atomic_load_n(&ch->target_vp, __ATOMIC_RELAXED);
	uint32_t sint = __atomic_load_n(&ch->sint, __ATOMIC_RELAXED);
	int rc;

	__atomic_fetch_add(&ch->signals_out, 1, __ATOMIC_RELAXED);
	if (vmbus_tracing(ch->srv))
		vmbus_trace(ch->srv, "chan %u -> signal vp=%u sint=%u",
			    ch->relid, vp, sint);
	rc = ch->srv->ops.signal_guest(ch->srv->ops_ctx, vp, sint, ch->relid);
	if (rc)
		vmbus_log(ch->srv, "channel %u: signalling VP %u failed (%d)",
			  ch->relid, vp, rc);
}

/*
 * Find the next packet of the in ring: validate the guest's write index and
 * the descriptor, without consuming anything.
 */
static int in_next(struct channel *ch, struct vmpacket_descriptor *desc,
		   uint32_t *pkt_len)
{
	struct ring_map *r = &ch->in;
	uint32_t write, avail, len;

	if (!r->view || channel_is_broken(ch))
		return -EPIPE;

	write = RING_LOAD_ACQ(r->ctrl, write_index);
	if (!ring_index_ok(write, r->size)) {
		channel_mark_broken(ch, "guest write_index out of range");
		return -EPIPE;
	}
	avail = vmbus_ring_bytes_to_read(write, ch->in_read, r->size);
	if (avail == 0)
		return -EAGAIN;
	if (avail < sizeof(*desc) + VMBUS_PACKET_TRAILER_SIZE) {
		channel_mark_broken(ch, "partial packet published");
		return -EPIPE;
	}
	/* The mirror makes the descriptor contiguous even across the wrap. */
	memcpy(desc, r->data + ch->in_read, sizeof(*desc));
	len = vmbus_packet_validate(desc, avail);
	if (!len) {
		channel_mark_broken(ch, "malformed packet descriptor");
		return -EPIPE;
	}
	*pkt_len = len;
	return 0;
}

/* Consume bytes of the in ring and honour the guest's pending_send_sz. */
static void in_consume(struct channel *ch, const struct vmpacket_descriptor *desc,
		       uint32_t pkt_len)
{
	struct ring_map *r = &ch->in;
	uint32_t bytes = vmbus_ring_packet_footprint(pkt_len);
	uint32_t next = ch->in_read + bytes;
	uint32_t pending, write, space_now, space_before;

	if (next >= r->size)
		next -= r->size;
	ch->in_read = next;
	RING_STORE_REL(r->ctrl, read_index, next);
	__atomic_fetch_add(&ch->packets_in, 1, __ATOMIC_RELAXED);

	if (vmbus_tracing(ch->srv))
		vmbus_trace(ch->srv,
			    "chan %u <- pkt type=%u flags=%#x len=%u trans=%#llx",
			    ch->relid, desc->type, desc->flags, pkt_len,
			    (unsigned long long)desc->trans_id);

	/* Publish read_index before looking at what the producer waits for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pending = RING_LOAD(r->ctrl, pending_send_sz);
	if (!pending)
		return;
	write = RING_LOAD_ACQ(r->ctrl, write_index);
	if (!ring_index_ok(write, r->size))
		return;		/* noticed, and broken, on the next read */
	space_now = vmbus_ring_bytes_to_write(write, next, r->size);
	space_before = space_now > bytes ? space_now - bytes : 0;
	/* Signal once: when this read crossed the producer's threshold. */
	if (space_before <= pending && space_now > pending)
		channel_signal_guest(ch);
}

int channel_recv(struct channel *ch, struct vmpacket_descriptor *desc,
		 void *buf, uint32_t buflen, uint32_t *len)
{
	uint32_t pkt_len, body;
	int rc;

	rc = in_next(ch, desc, &pkt_len);
	if (rc)
		return rc;
	body = pkt_len - (uint32_t)sizeof(*desc);
	*len = body;
	if (body > buflen)
		return -ENOBUFS;
	memcpy(buf, ch->in.data + ch->in_read + sizeof(*desc), body);
	ch->peek_bytes = 0;
	in_consume(ch, desc, pkt_len);
	return 0;
}

int channel_peek(struct channel *ch, struct vmpacket_descriptor *desc,
		 const void **pkt, uint32_t *len)
{
	uint32_t pkt_len;
	int rc;

	rc = in_next(ch, desc, &pkt_len);
	if (rc) {
		ch->peek_bytes = 0;
		return rc;
	}
	*pkt = ch->in.data + ch->in_read;
	*len = pkt_len;
	ch->peek_bytes = pkt_len;
	ch->peek_desc = *desc;
	return 0;
}

void channel_advance(struct channel *ch)
{
	uint32_t pkt_len = ch->peek_bytes;

	if (!pkt_len || !ch->in.view || channel_is_broken(ch))
		return;
	ch->peek_bytes = 0;
	in_consume(ch, &ch->peek_desc, pkt_len);
}

static uint32_t packet_bytes(uint32_t ext_len, uint32_t len)
{
	return vmbus_align8((uint32_t)sizeof(struct vmpacket_descriptor) +
			    ext_len + len);
}

bool channel_send_fits(struct channel *ch, uint32_t len)
{
	struct ring_map *r;
	uint32_t read, need;
	bool fits = false;

	if (len > VMBUS_MAX_PACKET_SIZE)
		return false;
	need = vmbus_ring_packet_footprint(packet_bytes(0, len));
	pthread_mutex_lock(&ch->send_lock);
	r = &ch->out;
	if (r->view && !channel_is_broken(ch)) {
		read = RING_LOAD_ACQ(r->ctrl, read_index);
		fits = ring_index_ok(read, r->size) &&
		       vmbus_ring_bytes_to_write(ch->out_write, read,
						 r->size) > need;
	}
	pthread_mutex_unlock(&ch->send_lock);
	return fits;
}

int channel_send_ext(struct channel *ch, uint16_t type, uint16_t flags,
		     uint64_t trans_id, const void *ext, uint32_t ext_len,
		     const void *data, uint32_t len)
{
	struct vmpacket_descriptor desc;
	struct ring_map *r = &ch->out;
	uint32_t hdr_len, pkt_len, need, read, old_write, next;
	uint64_t trailer;
	bool signal = false;
	uint8_t *dst;

	if ((ext_len & 7u) || ext_len > VMBUS_MAX_PACKET_SIZE ||
	    len > VMBUS_MAX_PACKET_SIZE)
		return -EINVAL;
	hdr_len = (uint32_t)sizeof(desc) + ext_len;
	pkt_len = packet_bytes(ext_len, len);
	if (pkt_len > VMBUS_MAX_PACKET_SIZE)
		return -EMSGSIZE;
	need = vmbus_ring_packet_footprint(pkt_len);

	pthread_mutex_lock(&ch->send_lock);
	/* After the rescind the guest expects nothing more on the ring. */
	if (!r->view || channel_is_broken(ch) ||
	    __atomic_load_n(&ch->rescinded, __ATOMIC_ACQUIRE)) {
		pthread_mutex_unlock(&ch->send_lock);
		return -EPIPE;
	}
	if (need >= r->size) {
		pthread_mutex_unlock(&ch->send_lock);
		return -EMSGSIZE;
	}
	read = RING_LOAD_ACQ(r->ctrl, read_index);
	if (!ring_index_ok(read, r->size))
		goto bad_read_index;
	/* Never fill the ring completely: equal indices mean empty. */
	if (vmbus_ring_bytes_to_write(ch->out_write, read, r->size) <= need) {
		RING_STORE(r->ctrl, pending_send_sz, need);
		ch->out_pending = true;
		/* The guest may have drained the ring before seeing it. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		read = RING_LOAD_ACQ(r->ctrl, read_index);
		if (!ring_index_ok(read, r->size))
			goto bad_read_index;
		if (vmbus_ring_bytes_to_write(ch->out_write, read,
					      r->size) <= need) {
			pthread_mutex_unlock(&ch->send_lock);
			return -EAGAIN;
		}
	}
	if (ch->out_pending) {
		RING_STORE(r->ctrl, pending_send_sz, 0);
		ch->out_pending = false;
	}

	desc.type = type;
	desc.offset8 = (uint16_t)(hdr_len / 8);
	desc.len8 = (uint16_t)(pkt_len / 8);
	desc.flags = flags;
	desc.trans_id = trans_id;

	old_write = ch->out_write;
	/* Writes past the end land in the mirror, i.e. at the start. */
	dst = r->data + old_write;
	memcpy(dst, &desc, sizeof(desc));
	if (ext_len)
		memcpy(dst + sizeof(desc), ext, ext_len);
	if (len)
		memcpy(dst + hdr_len, data, len);
	memset(dst + hdr_len + len, 0, pkt_len - hdr_len - len);
	trailer = (uint64_t)old_write << 32;
	memcpy(dst + pkt_len, &trailer, sizeof(trailer));

	next = old_write + need;
	if (next >= r->size)
		next -= r->size;
	ch->out_write = next;
	RING_STORE_REL(r->ctrl, write_index, next);

	/* Publish write_index before deciding whether the guest is asleep. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!RING_LOAD(r->ctrl, interrupt_mask) &&
	    RING_LOAD_ACQ(r->ctrl, read_index) == old_write)
		signal = true;
	__atomic_fetch_add(&ch->packets_out, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ch->send_lock);

	if (vmbus_tracing(ch->srv))
		vmbus_trace(ch->srv,
			    "chan %u -> pkt type=%u flags=%#x len=%u trans=%#llx",
			    ch->relid, type, flags, pkt_len,
			    (unsigned long long)trans_id);
	if (signal)
		channel_signal_guest(ch);
	return 0;

bad_read_index:
	pthread_mutex_unlock(&ch->send_lock);
	channel_mark_broken(ch, "guest read_index out of range");
	return -EPIPE;
}

int channel_send(struct channel *ch, uint16_t type, uint16_t flags,
		 uint64_t trans_id, const void *data, uint32_t len)
{
	return channel_send_ext(ch, type, flags, trans_id, NULL, 0, data, len);
}

int channel_send_completion(struct channel *ch, uint64_t trans_id,
			    const void *data, uint32_t len)
{
	return channel_send_ext(ch, VM_PKT_COMP, 0, trans_id, NULL, 0, data,
				len);
}

uint32_t channel_relid(const struct channel *ch)
{
	return ch->relid;
}

uint16_t channel_subchannel_index(const struct channel *ch)
{
	return ch->sub_index;
}

uint32_t channel_target_vp(const struct channel *ch)
{
	return __atomic_load_n(&ch->target_vp, __ATOMIC_RELAXED);
}

struct vmbus_device *channel_device(const struct channel *ch)
{
	return ch->dev;
}

const uint8_t *channel_open_userdata(const struct channel *ch)
{
	return ch->userdata;
}

uint32_t channel_in_ring_size(const struct channel *ch)
{
	return ch->in.size;
}

uint32_t channel_out_ring_size(const struct channel *ch)
{
	return ch->out.size;
}

void *channel_gpa_ptr(struct channel *ch, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return NULL;
	return ch->srv->ops.gpa_ptr(ch->srv->ops_ctx, gpa, len);
}

void channel_set_priv(struct channel *ch, void *priv)
{
	ch->priv = priv;
}

void *channel_get_priv(const struct channel *ch)
{
	return ch->priv;
}
