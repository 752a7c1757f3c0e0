/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hardware-free half of the VMBus bus driver: version negotiation
 * choices, validation of what the host sends, GPADL message packing and the
 * ring-buffer bookkeeping. Nothing here touches MSRs, hypercalls, PCI or
 * shared memory ordering, so the KUnit suites run it under UML unchanged.
 */
#ifndef VIRIDIAN_VMBUS_PROTOCOL_H
#define VIRIDIAN_VMBUS_PROTOCOL_H

#include <linux/types.h>
#include <viridian/wire/vmbus.h>
#include <viridian/wire/ring.h>

/* Relids index the 2048 event flags of the VMBus SINT. */
#define VMBUS_PROTO_MAX_RELIDS		HV_SYNIC_EVENT_FLAG_COUNT

#define VMBUS_PROTO_NR_VERSIONS		8
extern const u32 vmbus_proto_versions[VMBUS_PROTO_NR_VERSIONS];

/*
 * Parse "major.minor" (decimal) or a raw protocol word ("0x50003",
 * "327683") into a VMBUS_VERSION() value. The result need not be a version
 * we speak: it is only a cap. Returns 0 or -EINVAL.
 */
int vmbus_proto_parse_version(const char *str, u32 *version);

/* True for the versions this driver can negotiate. */
bool vmbus_proto_version_supported(u32 version);

/*
 * The version to offer after @prev was refused (0: the first offer), never
 * above @max_version. Returns 0 when nothing is left to try.
 */
u32 vmbus_proto_next_version(u32 prev, u32 max_version);

/* Where INITIATE_CONTACT for @version goes. */
u32 vmbus_proto_contact_connection_id(u32 version);

void vmbus_proto_build_initiate_contact(struct vmbus_channel_initiate_contact *msg,
					u32 version, u32 target_vp,
					u64 monitor_page1_gpa,
					u64 monitor_page2_gpa);

/*
 * Judge a VERSION_RESPONSE to an offer of @version. Returns 0 if accepted
 * (*msg_conn_id: the connection ID for every later message),
 * -EPROTONOSUPPORT if the host refused this version, -EPROTO if the
 * response is inconsistent.
 */
int vmbus_proto_parse_version_response(const struct vmbus_channel_version_response *resp,
				       u32 version, u32 *msg_conn_id);

/*
 * Smallest payload the host may send for a channel message type; 0 for a
 * type the host never sends to a guest.
 */
u32 vmbus_proto_host_msg_min_size(u32 msgtype);

/*
 * Check a message payload copied out of the SynIC slot. Returns 0 with
 * *msgtype set, -EBADMSG if it is too short or too long, -EOPNOTSUPP if the
 * type is not one a host sends (*msgtype set for the log).
 */
int vmbus_proto_check_host_msg(const void *payload, u32 size, u32 *msgtype);

/* Field checks on an OFFERCHANNEL. Returns 0 or -EBADMSG. */
int vmbus_proto_check_offer(const struct vmbus_channel_offer_channel *offer);

bool vmbus_proto_offer_monitored(const struct vmbus_channel_offer_channel *offer);

/*
 * The device-type code Linux reports in sysfs "device" for a class GUID
 * (IDE 0, SCSI 1, FC 2, network 3, ..., dynamic memory 15, unknown 16).
 */
u16 vmbus_proto_device_type(const guid_t *class_id);
#define VMBUS_PROTO_DEVICE_UNKNOWN	16

/*
 * GPADLs. A GPADL is one range of pfn_count pages: a GPADL_HEADER carrying
 * the first VMBUS_GPADL_HEADER_PFNS PFNs, then GPADL_BODY messages of up to
 * VMBUS_GPADL_BODY_PFNS each. The range length field is 16 bits wide,
 * which bounds a GPADL to VMBUS_PROTO_GPADL_MAX_PFNS pages.
 */
#define VMBUS_PROTO_GPADL_MAX_PFNS \
	((0xffffu - sizeof(struct vmbus_gpa_range)) / sizeof(u64))

/* Validate a buffer size in bytes; *pfn_count is its page count. */
int vmbus_proto_gpadl_pages(u32 size, u32 *pfn_count);
u32 vmbus_proto_gpadl_msg_count(u32 pfn_count);

/*
 * Build message @index (0: the header) of a GPADL into @msg, which holds
 * HV_MESSAGE_PAYLOAD_BYTES. Returns the payload size, or 0 if @index is
 * past the last message.
 */
u32 vmbus_proto_gpadl_build_msg(void *msg, u32 index, u32 relid, u32 handle,
				const u64 *pfns, u32 pfn_count);

/*
 * Ring sizes for OPENCHANNEL: whole pages, a control page and at least one
 * data page each, and both fit one GPADL. Returns 0 or -EINVAL.
 */
int vmbus_proto_check_ring_sizes(u32 send_ring_bytes, u32 recv_ring_bytes);

int vmbus_proto_build_open(struct vmbus_channel_open_channel *msg, u32 relid,
			   u32 openid, u32 gpadl, u32 target_vp,
			   u32 send_ring_bytes, const void *userdata,
			   u32 userdata_len);

/* Ring bookkeeping. Indices are byte offsets into a data area of @size. */

/* An index the peer published is usable: inside the area, 8-byte aligned. */
static inline bool vmbus_proto_ring_index_ok(u32 index, u32 size)
{
	return index < size && !(index & 7);
}

/*
 * Fill a packet descriptor. @header_bytes is the descriptor plus any
 * type-specific header before the payload (a multiple of 8). Returns 0 and
 * *packet_bytes (unpadded length), or -EINVAL if the packet is too large.
 */
int vmbus_proto_build_desc(struct vmpacket_descriptor *desc, u16 type,
			   u16 flags, u64 trans_id, u32 header_bytes,
			   u32 payload_bytes, u32 *packet_bytes);

/*
 * Room check before a write: 0 if a packet of @packet_bytes fits without
 * filling the ring completely, -EAGAIN if not, -EBADMSG if an index is bad.
 */
int vmbus_proto_ring_check_space(u32 write_index, u32 read_index, u32 size,
				 u32 packet_bytes);

struct vmbus_proto_chunk {
	const void *data;
	u32 len;
};

/*
 * Copy a packet's chunks (@packet_bytes in all) into the ring at
 * @write_index, then the zero padding to 8 bytes and the trailer, wrapping
 * as needed. Returns the write index to publish. The caller has checked
 * the space.
 */
u32 vmbus_proto_ring_put(u8 *data, u32 size, u32 write_index,
			 const struct vmbus_proto_chunk *chunks, u32 nchunks,
			 u32 packet_bytes);

/*
 * Look at the next packet. Copies its descriptor to @desc and returns 0
 * with *packet_bytes (len8 * 8), -EAGAIN if the ring is empty, -EBADMSG if
 * an index or the descriptor is malformed.
 */
int vmbus_proto_ring_peek(const u8 *data, u32 size, u32 write_index,
			  u32 read_index, struct vmpacket_descriptor *desc,
			  u32 *packet_bytes);

/* The read index after consuming a packet of @packet_bytes. */
static inline u32 vmbus_proto_ring_advance(u32 read_index, u32 size,
					   u32 packet_bytes)
{
	u32 next = read_index + packet_bytes + VMBUS_PACKET_TRAILER_SIZE;

	return next >= size ? next - size : next;
}

/*
 * After a write: the consumer must be signalled if it was not polling
 * (@interrupt_mask clear) and the ring was empty before this packet, i.e.
 * the old write index equals the read index seen after publishing.
 */
static inline bool vmbus_proto_signal_after_write(u32 old_write_index,
						  u32 read_index,
						  u32 interrupt_mask)
{
	return !interrupt_mask && old_write_index == read_index;
}

/*
 * After a read freed @freed bytes: a blocked producer asked for
 * @pending_send_sz free bytes; signal it only on the read that crosses
 * that threshold, so it is woken once.
 */
bool vmbus_proto_signal_after_read(u32 write_avail_now, u32 freed,
				   u32 pending_send_sz);

#endif /* VIRIDIAN_VMBUS_PROTOCOL_H */
