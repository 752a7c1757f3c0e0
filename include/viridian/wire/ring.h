/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * VMBus ring buffers and the packets in them. Each channel has two rings
 * (guest-to-host and host-to-guest) in one GPADL; each ring is a 4 KiB
 * control page followed by a power-of-two-free data area of whole pages.
 *
 * The index arithmetic lives here, as pure functions, so that the guest and
 * host-sim agree on it and both test suites exercise the same code. Memory
 * barriers are not here: each side orders its accesses with its own
 * primitives, following the rules written next to each field.
 */
#ifndef VIRIDIAN_WIRE_RING_H
#define VIRIDIAN_WIRE_RING_H

#include "types.h"

#define VMBUS_RING_FEAT_PENDING_SEND_SZ	0x1u

struct vmbus_ring_control {
	/*
	 * Producer index, in bytes from the start of the data area. The
	 * producer writes packet bytes, then (release) write_index.
	 */
	__u32 write_index;
	/* Consumer index; the consumer reads bytes, then (release) read_index. */
	__u32 read_index;
	/*
	 * Set by the consumer while it is polling: the producer need not
	 * signal. The producer must read it after publishing write_index
	 * (full barrier between the two).
	 */
	__u32 interrupt_mask;
	/*
	 * Set by a blocked producer: bytes it needs free. The consumer signals
	 * when its read makes that much space, reading the field after
	 * publishing read_index (full barrier between the two).
	 */
	__u32 pending_send_sz;
	__u32 reserved1[12];
	__u32 feature_bits;		/* VMBUS_RING_FEAT_* */
	__u8 reserved2[4096 - 68];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_ring_control, 4096);

#define VMBUS_RING_CONTROL_SIZE		4096u

/* Packet types. */
enum vmbus_packet_type {
	VM_PKT_INVALID			= 0x0,
	VM_PKT_SYNCH			= 0x1,
	VM_PKT_ADD_XFER_PAGESET		= 0x2,
	VM_PKT_RM_XFER_PAGESET		= 0x3,
	VM_PKT_ESTABLISH_GPADL		= 0x4,
	VM_PKT_TEARDOWN_GPADL		= 0x5,
	VM_PKT_DATA_INBAND		= 0x6,
	VM_PKT_DATA_USING_XFER_PAGES	= 0x7,
	VM_PKT_DATA_USING_GPADL		= 0x8,
	VM_PKT_DATA_USING_GPA_DIRECT	= 0x9,
	VM_PKT_CANCEL_REQUEST		= 0xa,
	VM_PKT_COMP			= 0xb,
	VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
	VM_PKT_ADDITIONAL_DATA		= 0xd,
};

#define VMBUS_PKT_FLAG_COMPLETION_REQUESTED	0x1

/*
 * Every packet starts with this descriptor. offset8 and len8 count 8-byte
 * units: the payload starts offset8 * 8 bytes from the descriptor, and the
 * whole packet (descriptor, any type-specific header, payload, padding) is
 * len8 * 8 bytes. An 8-byte trailer follows each packet in the ring.
 */
struct vmpacket_descriptor {
	__u16 type;
	__u16 offset8;
	__u16 len8;
	__u16 flags;
	__u64 trans_id;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmpacket_descriptor, 16);

#define VMBUS_PACKET_TRAILER_SIZE	8u

/* Transfer-page packets (host-to-guest receive buffers). */
struct vmtransfer_page_range {
	__u32 byte_count;
	__u32 byte_offset;
} __packed;

struct vmtransfer_page_packet_header {
	struct vmpacket_descriptor d;
	__u16 xfer_pageset_id;
	__u8 sender_owns_set;
	__u8 reserved;
	__u32 range_cnt;
	struct vmtransfer_page_range ranges[];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmtransfer_page_packet_header, 24);

/* GPA-direct packets: ranges of guest pages the host reads or writes. */
struct vmbus_packet_gpa_range {
	__u32 byte_count;
	__u32 byte_offset;
	__u64 pfn_array[];
} __packed;

struct vmbus_packet_gpa_direct {
	struct vmpacket_descriptor d;
	__u32 reserved;
	__u32 range_count;
	/* range_count struct vmbus_packet_gpa_range, each with its PFNs */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_packet_gpa_direct, 24);

/* Largest packet either side accepts, as a hardening limit. */
#define VMBUS_MAX_PACKET_SIZE		(64u * 1024u)

static inline __u32 vmbus_align8(__u32 len)
{
	return (len + 7u) & ~7u;
}

/* Bytes the consumer may read, given indices already validated < size. */
static inline __u32 vmbus_ring_bytes_to_read(__u32 write_index,
					     __u32 read_index, __u32 size)
{
	return write_index >= read_index ? write_index - read_index :
					   size - read_index + write_index;
}

/*
 * Bytes the producer may write. A ring is never filled completely, so that
 * equal indices always mean "empty".
 */
static inline __u32 vmbus_ring_bytes_to_write(__u32 write_index,
					      __u32 read_index, __u32 size)
{
	return size - vmbus_ring_bytes_to_read(write_index, read_index, size);
}

/* Ring bytes one packet of this many descriptor-plus-payload bytes uses. */
static inline __u32 vmbus_ring_packet_footprint(__u32 packet_len)
{
	return vmbus_align8(packet_len) + VMBUS_PACKET_TRAILER_SIZE;
}

/* Copy into the data area at offset, wrapping; returns the next offset. */
static inline __u32 vmbus_ring_copy_in(__u8 *data, __u32 size, __u32 offset,
				       const void *src, __u32 len)
{
	__u32 first = size - offset < len ? size - offset : len;

	memcpy(data + offset, src, first);
	memcpy(data, (const __u8 *)src + first, len - first);
	offset += len;
	return offset >= size ? offset - size : offset;
}

/* Copy out of the data area at offset, wrapping; returns the next offset. */
static inline __u32 vmbus_ring_copy_out(const __u8 *data, __u32 size,
					__u32 offset, void *dst, __u32 len)
{
	__u32 first = size - offset < len ? size - offset : len;

	memcpy(dst, data + offset, first);
	memcpy((__u8 *)dst + first, data, len - first);
	offset += len;
	return offset >= size ? offset - size : offset;
}

/*
 * Check a descriptor read from an untrusted peer against the bytes
 * available. Returns the packet's total length in bytes, or 0 if the
 * descriptor is malformed.
 */
static inline __u32 vmbus_packet_validate(const struct vmpacket_descriptor *d,
					  __u32 available)
{
	__u32 len = (__u32)d->len8 * 8u;
	__u32 offset = (__u32)d->offset8 * 8u;

	if (len < sizeof(*d) || offset < sizeof(*d) || offset > len)
		return 0;
	if (len > VMBUS_MAX_PACKET_SIZE)
		return 0;
	if (vmbus_ring_packet_footprint(len) > available)
		return 0;
	return len;
}

#endif /* VIRIDIAN_WIRE_RING_H */
