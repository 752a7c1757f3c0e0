/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host end of one VMBus channel: its two rings, mapped straight from
 * guest RAM (no copies beyond the caller's buffer), with the index and
 * signalling rules of wire/ring.h.
 *
 * Ring roles, named from the host's side:
 *   in  = guest-to-host ring (pages [0, offset) of the ring GPADL); the
 *         host consumes it with channel_recv or channel_peek/advance.
 *   out = host-to-guest ring (pages [offset, n)); the host produces into
 *         it with channel_send*.
 *
 * Threading:
 *   - Sends are serialised by a per-channel lock, so any thread may send;
 *     a VSP that wants a strict order sends from one thread.
 *   - Receiving (recv, peek, advance) has one consumer at a time: the
 *     VSP's on_signal on the event loop, or one worker thread it hands
 *     the channel to. The functions take no lock.
 *   - Signalling the guest is thread-safe.
 *   - A channel and its rings live from the VSP's open until its close
 *     returns; workers must be stopped inside close.
 *
 * Everything in the rings belongs to the guest and may change under us:
 * indices are checked against the ring size, descriptors are copied before
 * they are checked, and a guest that writes garbage gets its channel
 * marked broken (logged once; every later call fails with -EPIPE).
 */
#ifndef HVSIM_VMBUS_CHANNEL_H
#define HVSIM_VMBUS_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "viridian/wire/ring.h"

struct channel;
struct vmbus_device;

/*
 * Copy the next packet out of the in ring and consume it. *desc receives
 * the (validated) descriptor; buf receives the packet bytes that follow the
 * descriptor, *len of them (len8 * 8 - 16, including any type-specific
 * header and the alignment padding), so the payload starts at
 * buf + desc->offset8 * 8 - sizeof(*desc).
 * Returns 0, -EAGAIN when the ring is empty, -ENOBUFS when buflen is too
 * small (*len says how much is needed; the packet stays), -EPIPE when the
 * channel is broken or closed.
 */
int channel_recv(struct channel *ch, struct vmpacket_descriptor *desc,
		 void *buf, uint32_t buflen, uint32_t *len);

/*
 * In-place parsing. channel_peek points *pkt at the next whole packet
 * (descriptor first) inside the mapped ring; the mirror mapping makes it
 * contiguous even across the wrap. *desc is a validated copy of its
 * descriptor and *len its total length (desc->len8 * 8). The bytes at *pkt
 * are guest memory: copy any field before checking it. Peeking again
 * returns the same packet until channel_advance consumes it. Return codes
 * as channel_recv.
 */
int channel_peek(struct channel *ch, struct vmpacket_descriptor *desc,
		 const void **pkt, uint32_t *len);
void channel_advance(struct channel *ch);

/*
 * Send one packet: a descriptor (type, flags, trans_id), then data.
 * channel_send_ext puts ext (a type-specific header, multiple of 8 bytes)
 * between the descriptor and data, and points offset8 at data.
 * Returns 0, -EAGAIN when the out ring lacks room (pending_send_sz is set:
 * the guest signals once it has read enough, and on_signal may retry),
 * -EMSGSIZE when the packet can never fit, -EPIPE when broken or closed.
 */
int channel_send(struct channel *ch, uint16_t type, uint16_t flags,
		 uint64_t trans_id, const void *data, uint32_t len);
int channel_send_ext(struct channel *ch, uint16_t type, uint16_t flags,
		     uint64_t trans_id, const void *ext, uint32_t ext_len,
		     const void *data, uint32_t len);
/* A VM_PKT_COMP packet answering trans_id. */
int channel_send_completion(struct channel *ch, uint64_t trans_id,
			    const void *data, uint32_t len);

/* True if a plain packet of len payload bytes fits in the out ring now. */
bool channel_send_fits(struct channel *ch, uint32_t len);

/* Signal the guest for this channel (normally done by channel_send). */
void channel_signal_guest(struct channel *ch);

/* Mark the channel broken (a VSP found the guest's protocol violated). */
void channel_mark_broken(struct channel *ch, const char *why);
bool channel_is_broken(const struct channel *ch);

/*
 * Log a line about this channel through the server's rate-limited error
 * log (it is traced too).
 */
void channel_log(struct channel *ch, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Accessors. */
uint32_t channel_relid(const struct channel *ch);
uint16_t channel_subchannel_index(const struct channel *ch);
uint32_t channel_target_vp(const struct channel *ch);
struct vmbus_device *channel_device(const struct channel *ch);
/* The 120 user-defined bytes of the guest's OPENCHANNEL. */
const uint8_t *channel_open_userdata(const struct channel *ch);
/* Data-area sizes of the two rings in bytes. */
uint32_t channel_in_ring_size(const struct channel *ch);
uint32_t channel_out_ring_size(const struct channel *ch);
/* Guest memory for GPA-direct transfers: NULL unless all of it is RAM. */
void *channel_gpa_ptr(struct channel *ch, uint64_t gpa, uint64_t len);
/* Per-channel VSP data (sub-channels share the device's ctx). */
void channel_set_priv(struct channel *ch, void *priv);
void *channel_get_priv(const struct channel *ch);

#endif /* HVSIM_VMBUS_CHANNEL_H */
