// SPDX-License-Identifier: GPL-2.0
/*
 * VMBus protocol logic without hardware: see protocol.h. Everything the
 * host hands us is checked here before the driver acts on it.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>
#include <linux/string.h>

#include "protocol.h"

/* Highest first: negotiation walks down until the host accepts one. */
const u32 vmbus_proto_versions[VMBUS_PROTO_NR_VERSIONS] = {
	VMBUS_VERSION_WIN10_V5_3,
	VMBUS_VERSION_WIN10_V5_2,
	VMBUS_VERSION_WIN10_V5_1,
	VMBUS_VERSION_WIN10_V5,
	VMBUS_VERSION_WIN10_V4_1,
	VMBUS_VERSION_WIN10,
	VMBUS_VERSION_WIN8_1,
	VMBUS_VERSION_WIN8,
};

int vmbus_proto_parse_version(const char *str, u32 *version)
{
	char buf[16];
	char *dot;
	u16 major, minor;
	size_t len;

	if (!str)
		return -EINVAL;
	len = strlen(str);
	/* sysfs and the command line may leave a trailing newline. */
	if (len && str[len - 1] == '\n')
		len--;
	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, str, len);
	buf[len] = '\0';

	dot = strchr(buf, '.');
	if (!dot)
		return kstrtou32(buf, 0, version);

	*dot = '\0';
	if (kstrtou16(buf, 10, &major) || kstrtou16(dot + 1, 10, &minor))
		return -EINVAL;
	*version = VMBUS_VERSION(major, minor);
	return 0;
}

bool vmbus_proto_version_supported(u32 version)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmbus_proto_versions); i++)
		if (vmbus_proto_versions[i] == version)
			return true;
	return false;
}

u32 vmbus_proto_next_version(u32 prev, u32 max_version)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmbus_proto_versions); i++) {
		u32 v = vmbus_proto_versions[i];

		if (v > max_version)
			continue;
		if (prev && v >= prev)
			continue;
		return v;
	}
	return 0;
}

u32 vmbus_proto_contact_connection_id(u32 version)
{
	return version >= VMBUS_VERSION_WIN10_V5 ?
	       VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
}

void vmbus_proto_build_initiate_contact(struct vmbus_channel_initiate_contact *msg,
					u32 version, u32 target_vp,
					u64 monitor_page1_gpa,
					u64 monitor_page2_gpa)
{
	memset(msg, 0, sizeof(*msg));
	msg->header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	msg->vmbus_version_requested = version;
	msg->target_vcpu = target_vp;
	/*
	 * From 5.0 the field names the SINT (VTL 0 in byte 1). Before, it is
	 * the interrupt page, which only hosts older than 2.4 use for channel
	 * events; we never negotiate those, so it stays 0.
	 */
	if (version >= VMBUS_VERSION_WIN10_V5)
		msg->interrupt_page_or_sint = VMBUS_MESSAGE_SINT;
	msg->monitor_page1 = monitor_page1_gpa;
	msg->monitor_page2 = monitor_page2_gpa;
}

int vmbus_proto_parse_version_response(const struct vmbus_channel_version_response *resp,
				       u32 version, u32 *msg_conn_id)
{
	if (!resp->version_supported)
		return -EPROTONOSUPPORT;
	if (resp->connection_state != 0)
		return -EPROTO;
	if (version >= VMBUS_VERSION_WIN10_V5) {
		/* A zero connection ID would route every later message nowhere. */
		if (!resp->msg_conn_id)
			return -EPROTO;
		*msg_conn_id = resp->msg_conn_id;
	} else {
		*msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	}
	return 0;
}

u32 vmbus_proto_host_msg_min_size(u32 msgtype)
{
	switch (msgtype) {
	case CHANNELMSG_OFFERCHANNEL:
		return sizeof(struct vmbus_channel_offer_channel);
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		return sizeof(struct vmbus_channel_rescind_offer);
	case CHANNELMSG_ALLOFFERS_DELIVERED:
	case CHANNELMSG_UNLOAD_RESPONSE:
		return sizeof(struct vmbus_channel_message_header);
	case CHANNELMSG_OPENCHANNEL_RESULT:
		return sizeof(struct vmbus_channel_open_result);
	case CHANNELMSG_GPADL_CREATED:
		return sizeof(struct vmbus_channel_gpadl_created);
	case CHANNELMSG_GPADL_TORNDOWN:
		return sizeof(struct vmbus_channel_gpadl_torndown);
	case CHANNELMSG_VERSION_RESPONSE:
		return sizeof(struct vmbus_channel_version_response);
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		return sizeof(struct vmbus_channel_modifychannel_response);
	default:
		return 0;
	}
}

int vmbus_proto_check_host_msg(const void *payload, u32 size, u32 *msgtype)
{
	const struct vmbus_channel_message_header *hdr = payload;
	u32 min;

	if (size < sizeof(*hdr) || size > HV_MESSAGE_PAYLOAD_BYTES)
		return -EBADMSG;
	*msgtype = hdr->msgtype;
	min = vmbus_proto_host_msg_min_size(*msgtype);
	if (!min)
		return -EOPNOTSUPP;
	if (size < min)
		return -EBADMSG;
	return 0;
}

int vmbus_proto_check_offer(const struct vmbus_channel_offer_channel *offer)
{
	if (offer->child_relid >= VMBUS_PROTO_MAX_RELIDS)
		return -EBADMSG;
	if (vmbus_proto_offer_monitored(offer) &&
	    offer->monitorid >= VMBUS_MONITOR_IDS)
		return -EBADMSG;
	return 0;
}

bool vmbus_proto_offer_monitored(const struct vmbus_channel_offer_channel *offer)
{
	return offer->monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED;
}

u16 vmbus_proto_device_type(const guid_t *class_id)
{
	/* Linux's codes; 4 (Network Direct) and 5 (PCI) have no class here. */
	static const struct {
		guid_t guid;
		u16 type;
	} table[] = {
		{ VMBUS_CLASS_IDE, 0 },
		{ VMBUS_CLASS_SCSI, 1 },
		{ VMBUS_CLASS_FC, 2 },
		{ VMBUS_CLASS_NETWORK, 3 },
		{ VMBUS_CLASS_VIDEO, 6 },
		{ VMBUS_CLASS_KEYBOARD, 7 },
		{ VMBUS_CLASS_MOUSE, 8 },
		{ VMBUS_CLASS_KVP, 9 },
		{ VMBUS_CLASS_TIMESYNC, 10 },
		{ VMBUS_CLASS_HEARTBEAT, 11 },
		{ VMBUS_CLASS_SHUTDOWN, 12 },
		{ VMBUS_CLASS_FCOPY, 13 },
		{ VMBUS_CLASS_VSS, 14 },
		{ VMBUS_CLASS_DYNMEM, 15 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(table); i++)
		if (guid_equal(&table[i].guid, class_id))
			return table[i].type;
	return VMBUS_PROTO_DEVICE_UNKNOWN;
}

int vmbus_proto_gpadl_pages(u32 size, u32 *pfn_count)
{
	if (!size || size % VIRIDIAN_PAGE_SIZE)
		return -EINVAL;
	*pfn_count = size >> VIRIDIAN_PAGE_SHIFT;
	if (*pfn_count > VMBUS_PROTO_GPADL_MAX_PFNS)
		return -E2BIG;
	return 0;
}

u32 vmbus_proto_gpadl_msg_count(u32 pfn_count)
{
	if (pfn_count <= VMBUS_GPADL_HEADER_PFNS)
		return 1;
	return 1 + DIV_ROUND_UP(pfn_count - VMBUS_GPADL_HEADER_PFNS,
				VMBUS_GPADL_BODY_PFNS);
}

u32 vmbus_proto_gpadl_build_msg(void *msg, u32 index, u32 relid, u32 handle,
				const u64 *pfns, u32 pfn_count)
{
	struct vmbus_channel_gpadl_header *hdr = msg;
	struct vmbus_channel_gpadl_body *body = msg;
	u32 first, count;

	if (!pfn_count || pfn_count > VMBUS_PROTO_GPADL_MAX_PFNS ||
	    index >= vmbus_proto_gpadl_msg_count(pfn_count))
		return 0;

	memset(msg, 0, HV_MESSAGE_PAYLOAD_BYTES);
	if (index == 0) {
		count = min_t(u32, pfn_count, VMBUS_GPADL_HEADER_PFNS);
		hdr->header.msgtype = CHANNELMSG_GPADL_HEADER;
		hdr->child_relid = relid;
		hdr->gpadl = handle;
		hdr->range_buflen = sizeof(struct vmbus_gpa_range) +
				    pfn_count * sizeof(u64);
		hdr->rangecount = 1;
		hdr->range[0].byte_count = pfn_count * VIRIDIAN_PAGE_SIZE;
		hdr->range[0].byte_offset = 0;
		memcpy(hdr->range[0].pfn_array, pfns, count * sizeof(u64));
		return sizeof(*hdr) + sizeof(struct vmbus_gpa_range) +
		       count * sizeof(u64);
	}

	first = VMBUS_GPADL_HEADER_PFNS + (index - 1) * VMBUS_GPADL_BODY_PFNS;
	count = min_t(u32, pfn_count - first, VMBUS_GPADL_BODY_PFNS);
	body->header.msgtype = CHANNELMSG_GPADL_BODY;
	body->msgnumber = index;
	body->gpadl = handle;
	memcpy(body->pfn, pfns + first, count * sizeof(u64));
	return sizeof(*body) + count * sizeof(u64);
}

int vmbus_proto_check_ring_sizes(u32 send_ring_bytes, u32 recv_ring_bytes)
{
	u32 pages;

	if (send_ring_bytes % VIRIDIAN_PAGE_SIZE ||
	    recv_ring_bytes % VIRIDIAN_PAGE_SIZE)
		return -EINVAL;
	if (send_ring_bytes < 2 * VIRIDIAN_PAGE_SIZE ||
	    recv_ring_bytes < 2 * VIRIDIAN_PAGE_SIZE)
		return -EINVAL;
	/* Both rings share one GPADL: add in pages so nothing wraps. */
	pages = (send_ring_bytes >> VIRIDIAN_PAGE_SHIFT) +
		(recv_ring_bytes >> VIRIDIAN_PAGE_SHIFT);
	if (pages > VMBUS_PROTO_GPADL_MAX_PFNS)
		return -EINVAL;
	return 0;
}

int vmbus_proto_build_open(struct vmbus_channel_open_channel *msg, u32 relid,
			   u32 openid, u32 gpadl, u32 target_vp,
			   u32 send_ring_bytes, const void *userdata,
			   u32 userdata_len)
{
	if (userdata_len > VMBUS_MAX_USER_DEFINED_BYTES ||
	    (userdata_len && !userdata))
		return -EINVAL;
	if (send_ring_bytes % VIRIDIAN_PAGE_SIZE)
		return -EINVAL;

	memset(msg, 0, sizeof(*msg));
	msg->header.msgtype = CHANNELMSG_OPENCHANNEL;
	msg->child_relid = relid;
	msg->openid = openid;
	msg->ringbuffer_gpadlhandle = gpadl;
	msg->target_vp = target_vp;
	/* The host-to-guest ring starts right after the send ring's pages. */
	msg->downstream_ringbuffer_pageoffset = send_ring_bytes >> VIRIDIAN_PAGE_SHIFT;
	if (userdata_len)
		memcpy(msg->userdata, userdata, userdata_len);
	return 0;
}

int vmbus_proto_build_desc(struct vmpacket_descriptor *desc, u16 type,
			   u16 flags, u64 trans_id, u32 header_bytes,
			   u32 payload_bytes, u32 *packet_bytes)
{
	u32 total;

	if (header_bytes < sizeof(*desc) || header_bytes & 7 ||
	    header_bytes > VMBUS_MAX_PACKET_SIZE ||
	    payload_bytes > VMBUS_MAX_PACKET_SIZE - header_bytes)
		return -EINVAL;
	total = header_bytes + payload_bytes;

	desc->type = type;
	desc->offset8 = header_bytes / 8;
	desc->len8 = vmbus_align8(total) / 8;
	desc->flags = flags;
	desc->trans_id = trans_id;
	*packet_bytes = total;
	return 0;
}

int vmbus_proto_ring_check_space(u32 write_index, u32 read_index, u32 size,
				 u32 packet_bytes)
{
	u32 need = vmbus_ring_packet_footprint(packet_bytes);

	if (!vmbus_proto_ring_index_ok(write_index, size) ||
	    !vmbus_proto_ring_index_ok(read_index, size))
		return -EBADMSG;
	/* Strictly greater: equal indices must keep meaning "empty". */
	if (vmbus_ring_bytes_to_write(write_index, read_index, size) <= need)
		return -EAGAIN;
	return 0;
}

u32 vmbus_proto_ring_put(u8 *data, u32 size, u32 write_index,
			 const struct vmbus_proto_chunk *chunks, u32 nchunks,
			 u32 packet_bytes)
{
	static const u8 zeros[8];
	u32 pos = write_index;
	u64 trailer;
	u32 i;

	for (i = 0; i < nchunks; i++)
		if (chunks[i].len)
			pos = vmbus_ring_copy_in(data, size, pos, chunks[i].data,
						 chunks[i].len);
	pos = vmbus_ring_copy_in(data, size, pos, zeros,
				 vmbus_align8(packet_bytes) - packet_bytes);
	/* The trailer records where the packet started, as Windows does. */
	trailer = (u64)write_index << 32;
	return vmbus_ring_copy_in(data, size, pos, &trailer, sizeof(trailer));
}

int vmbus_proto_ring_peek(const u8 *data, u32 size, u32 write_index,
			  u32 read_index, struct vmpacket_descriptor *desc,
			  u32 *packet_bytes)
{
	u32 avail;

	if (!vmbus_proto_ring_index_ok(write_index, size) ||
	    !vmbus_proto_ring_index_ok(read_index, size))
		return -EBADMSG;
	avail = vmbus_ring_bytes_to_read(write_index, read_index, size);
	if (!avail)
		return -EAGAIN;
	/* A producer publishes whole packets, so a fragment is a lie. */
	if (avail < sizeof(*desc) + VMBUS_PACKET_TRAILER_SIZE)
		return -EBADMSG;
	vmbus_ring_copy_out(data, size, read_index, desc, sizeof(*desc));
	*packet_bytes = vmbus_packet_validate(desc, avail);
	if (!*packet_bytes)
		return -EBADMSG;
	return 0;
}

bool vmbus_proto_signal_after_read(u32 write_avail_now, u32 freed,
				   u32 pending_send_sz)
{
	u32 before;

	if (!pending_send_sz)
		return false;
	/* Still short: the producer keeps waiting. */
	if (write_avail_now <= pending_send_sz)
		return false;
	/* The producer may have written since; never underflow. */
	before = write_avail_now > freed ? write_avail_now - freed : 0;
	/* Already enough before this read: it was signalled then. */
	return before <= pending_send_sz;
}
