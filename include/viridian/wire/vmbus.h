/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * VMBus channel-management messages (carried in SynIC messages on the VMBus
 * SINT and posted with HvPostMessage), protocol versions, monitor pages and
 * the device class GUIDs. Shared by the guest bus driver and host-sim's
 * VMBus server.
 */
#ifndef VIRIDIAN_WIRE_VMBUS_H
#define VIRIDIAN_WIRE_VMBUS_H

#include "types.h"
#include "hv.h"

/* Protocol versions: major << 16 | minor. */
#define VMBUS_VERSION(major, minor)	(((__u32)(major) << 16) | (minor))
#define VMBUS_VERSION_WS2008		VMBUS_VERSION(0, 13)
#define VMBUS_VERSION_WIN7		VMBUS_VERSION(1, 1)
#define VMBUS_VERSION_WIN8		VMBUS_VERSION(2, 4)
#define VMBUS_VERSION_WIN8_1		VMBUS_VERSION(3, 0)
#define VMBUS_VERSION_WIN10		VMBUS_VERSION(4, 0)
#define VMBUS_VERSION_WIN10_V4_1	VMBUS_VERSION(4, 1)
#define VMBUS_VERSION_WIN10_V5		VMBUS_VERSION(5, 0)
#define VMBUS_VERSION_WIN10_V5_1	VMBUS_VERSION(5, 1)
#define VMBUS_VERSION_WIN10_V5_2	VMBUS_VERSION(5, 2)
#define VMBUS_VERSION_WIN10_V5_3	VMBUS_VERSION(5, 3)
#define VMBUS_VERSION_MAJOR(v)		((v) >> 16)
#define VMBUS_VERSION_MINOR(v)		((v) & 0xffff)

/* Connection IDs and SINTs. */
#define VMBUS_MESSAGE_CONNECTION_ID	1	/* before 5.0 */
#define VMBUS_MESSAGE_CONNECTION_ID_4	4	/* first contact from 5.0 on */
#define VMBUS_MESSAGE_PORT_ID		1
#define VMBUS_EVENT_CONNECTION_ID	2	/* interrupt page, before 2.4 */
#define VMBUS_MONITOR_CONNECTION_ID	3
#define VMBUS_MESSAGE_SINT		2

enum vmbus_channel_message_type {
	CHANNELMSG_INVALID			= 0,
	CHANNELMSG_OFFERCHANNEL			= 1,
	CHANNELMSG_RESCIND_CHANNELOFFER		= 2,
	CHANNELMSG_REQUESTOFFERS		= 3,
	CHANNELMSG_ALLOFFERS_DELIVERED		= 4,
	CHANNELMSG_OPENCHANNEL			= 5,
	CHANNELMSG_OPENCHANNEL_RESULT		= 6,
	CHANNELMSG_CLOSECHANNEL			= 7,
	CHANNELMSG_GPADL_HEADER			= 8,
	CHANNELMSG_GPADL_BODY			= 9,
	CHANNELMSG_GPADL_CREATED		= 10,
	CHANNELMSG_GPADL_TEARDOWN		= 11,
	CHANNELMSG_GPADL_TORNDOWN		= 12,
	CHANNELMSG_RELID_RELEASED		= 13,
	CHANNELMSG_INITIATE_CONTACT		= 14,
	CHANNELMSG_VERSION_RESPONSE		= 15,
	CHANNELMSG_UNLOAD			= 16,
	CHANNELMSG_UNLOAD_RESPONSE		= 17,
	CHANNELMSG_TL_CONNECT_REQUEST		= 21,
	CHANNELMSG_MODIFYCHANNEL		= 22,
	CHANNELMSG_TL_CONNECT_RESULT		= 23,
	CHANNELMSG_MODIFYCHANNEL_RESPONSE	= 24,
	CHANNELMSG_COUNT
};

struct vmbus_channel_message_header {
	__u32 msgtype;
	__u32 padding;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_message_header, 8);

#define VMBUS_MAX_USER_DEFINED_BYTES	120
#define VMBUS_MAX_PIPE_USER_DEFINED	116

/* Offer flags (chn_flags). */
#define VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE	0x0001
#define VMBUS_CHANNEL_SERVER_SUPPORTS_TRANSFER_PAGES	0x0002
#define VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS		0x0004
#define VMBUS_CHANNEL_NAMED_PIPE_MODE			0x0010
#define VMBUS_CHANNEL_LOOPBACK_OFFER			0x0100
#define VMBUS_CHANNEL_PARENT_OFFER			0x0200
#define VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION	0x0400
#define VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER		0x2000

struct vmbus_channel_offer {
	guid_t if_type;			/* device class */
	guid_t if_instance;		/* device instance */
	__u64 reserved1;
	__u64 reserved2;
	__u16 chn_flags;
	__u16 mmio_megabytes;
	__u8 user_def[VMBUS_MAX_USER_DEFINED_BYTES]; /* pipe mode: u32 then 116 */
	__u16 sub_channel_index;
	__u16 reserved3;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_offer, 176);

/* Flags byte after monitorid. */
#define VMBUS_OFFER_MONITOR_ALLOCATED	0x01
/* Flags word after that. */
#define VMBUS_OFFER_DEDICATED_INTERRUPT	0x0001

struct vmbus_channel_offer_channel {
	struct vmbus_channel_message_header header;
	struct vmbus_channel_offer offer;
	__u32 child_relid;
	__u8 monitorid;
	__u8 monitor_flags;		/* VMBUS_OFFER_MONITOR_ALLOCATED */
	__u16 interrupt_flags;		/* VMBUS_OFFER_DEDICATED_INTERRUPT */
	__u32 connection_id;		/* signal target, from 2.4 on */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_offer_channel, 196);

struct vmbus_channel_rescind_offer {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_rescind_offer, 12);

struct vmbus_channel_open_channel {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 openid;
	__u32 ringbuffer_gpadlhandle;
	__u32 target_vp;
	/* Page offset, within the ring GPADL, of the host-to-guest ring. */
	__u32 downstream_ringbuffer_pageoffset;
	__u8 userdata[VMBUS_MAX_USER_DEFINED_BYTES];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_open_channel, 148);

struct vmbus_channel_open_result {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 openid;
	__u32 status;			/* 0: success */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_open_result, 20);

struct vmbus_channel_close_channel {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_close_channel, 12);

/* One range of a GPADL: byte_offset into the first page, then PFNs. */
struct vmbus_gpa_range {
	__u32 byte_count;
	__u32 byte_offset;
	__u64 pfn_array[];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_gpa_range, 8);

struct vmbus_channel_gpadl_header {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 gpadl;
	__u16 range_buflen;		/* bytes of all ranges with their PFNs */
	__u16 rangecount;
	struct vmbus_gpa_range range[];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_gpadl_header, 20);

struct vmbus_channel_gpadl_body {
	struct vmbus_channel_message_header header;
	__u32 msgnumber;
	__u32 gpadl;
	__u64 pfn[];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_gpadl_body, 16);

/* PFNs that fit in the first and in each following GPADL message. */
#define VMBUS_GPADL_HEADER_PFNS \
	((HV_MESSAGE_PAYLOAD_BYTES - sizeof(struct vmbus_channel_gpadl_header) - \
	  sizeof(struct vmbus_gpa_range)) / sizeof(__u64))
#define VMBUS_GPADL_BODY_PFNS \
	((HV_MESSAGE_PAYLOAD_BYTES - sizeof(struct vmbus_channel_gpadl_body)) / \
	 sizeof(__u64))

struct vmbus_channel_gpadl_created {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 gpadl;
	__u32 creation_status;		/* 0: success */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_gpadl_created, 20);

struct vmbus_channel_gpadl_teardown {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 gpadl;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_gpadl_teardown, 16);

struct vmbus_channel_gpadl_torndown {
	struct vmbus_channel_message_header header;
	__u32 gpadl;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_gpadl_torndown, 12);

struct vmbus_channel_relid_released {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_relid_released, 12);

struct vmbus_channel_initiate_contact {
	struct vmbus_channel_message_header header;
	__u32 vmbus_version_requested;
	__u32 target_vcpu;		/* VP index for channel messages */
	/*
	 * Before 5.0: GPA of the interrupt page. From 5.0 on: byte 0 is the
	 * SINT for channel messages, byte 1 the VTL.
	 */
	__u64 interrupt_page_or_sint;
	__u64 monitor_page1;		/* host to guest */
	__u64 monitor_page2;		/* guest to host */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_initiate_contact, 40);

struct vmbus_channel_version_response {
	struct vmbus_channel_message_header header;
	__u8 version_supported;
	__u8 connection_state;		/* 0: connected */
	__u16 padding;
	__u32 msg_conn_id;		/* from 5.0 on */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_version_response, 16);

struct vmbus_channel_unload {
	struct vmbus_channel_message_header header;
} __packed;

struct vmbus_channel_tl_connect_request {
	struct vmbus_channel_message_header header;
	guid_t guest_endpoint_id;
	guid_t host_service_id;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_tl_connect_request, 40);

/* The host's answer; Linux guests ignore it. */
struct vmbus_channel_tl_connect_result {
	struct vmbus_channel_message_header header;
	guid_t guest_endpoint_id;
	guid_t host_service_id;
	__u32 status;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_tl_connect_result, 44);

struct vmbus_channel_modifychannel {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 target_vp;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_modifychannel, 16);

struct vmbus_channel_modifychannel_response {
	struct vmbus_channel_message_header header;
	__u32 child_relid;
	__u32 status;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_channel_modifychannel_response, 16);

/* Monitor pages (MNF): 4 trigger groups of 32 monitor IDs each. */
#define VMBUS_MONITOR_GROUPS		4
#define VMBUS_MONITOR_IDS_PER_GROUP	32
#define VMBUS_MONITOR_IDS		128

struct hv_monitor_trigger_group {
	__u32 pending;
	__u32 armed;
} __packed;

struct hv_monitor_parameter {
	__u32 connection_id;
	__u16 flag_number;
	__u16 reserved;
} __packed;

struct hv_monitor_page {
	__u32 trigger_state;
	__u32 reserved1;
	struct hv_monitor_trigger_group trigger_group[VMBUS_MONITOR_GROUPS];
	__u64 reserved2[3];
	__s32 next_check_time[VMBUS_MONITOR_GROUPS][VMBUS_MONITOR_IDS_PER_GROUP];
	__u16 latency[VMBUS_MONITOR_GROUPS][VMBUS_MONITOR_IDS_PER_GROUP];
	__u64 reserved3[32];
	struct hv_monitor_parameter
		parameter[VMBUS_MONITOR_GROUPS][VMBUS_MONITOR_IDS_PER_GROUP];
	__u8 reserved4[1984];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_monitor_page, 4096);

/* Device class GUIDs. */
#define VMBUS_CLASS_NETWORK \
	GUID_INIT(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e)
#define VMBUS_CLASS_SCSI \
	GUID_INIT(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f)
#define VMBUS_CLASS_IDE \
	GUID_INIT(0x32412632, 0x86cb, 0x44a2, 0x9b, 0x5c, 0x50, 0xd1, 0x41, 0x73, 0x54, 0xf5)
#define VMBUS_CLASS_FC \
	GUID_INIT(0x2f9bcc4a, 0x0069, 0x4af3, 0xb7, 0x6b, 0x6f, 0xd0, 0xbe, 0x52, 0x8c, 0xda)
#define VMBUS_CLASS_VIDEO \
	GUID_INIT(0xda0a7802, 0xe377, 0x4aac, 0x8e, 0x77, 0x05, 0x58, 0xeb, 0x10, 0x73, 0xf8)
#define VMBUS_CLASS_KEYBOARD \
	GUID_INIT(0xf912ad6d, 0x2b17, 0x48ea, 0xbd, 0x65, 0xf9, 0x27, 0xa6, 0x1c, 0x76, 0x84)
#define VMBUS_CLASS_MOUSE \
	GUID_INIT(0xcfa8b69e, 0x5b4a, 0x4cc0, 0xb9, 0x8b, 0x8b, 0xa1, 0xa1, 0xf3, 0xf9, 0x5a)
#define VMBUS_CLASS_KVP \
	GUID_INIT(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6)
#define VMBUS_CLASS_TIMESYNC \
	GUID_INIT(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf)
#define VMBUS_CLASS_HEARTBEAT \
	GUID_INIT(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d)
#define VMBUS_CLASS_SHUTDOWN \
	GUID_INIT(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb)
#define VMBUS_CLASS_FCOPY \
	GUID_INIT(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1, 0x92)
#define VMBUS_CLASS_VSS \
	GUID_INIT(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4, 0x40)
#define VMBUS_CLASS_DYNMEM \
	GUID_INIT(0x525074dc, 0x8985, 0x46e2, 0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5, 0x02)

#define VMBUS_VENDOR_MICROSOFT		0x1414

/*
 * Any channel message as the payload of one SynIC message: copy the bytes
 * in, then read the member that header.msgtype names.
 */
union vmbus_channel_msg_any {
	__u8 bytes[HV_MESSAGE_PAYLOAD_BYTES];
	__u64 align;
	struct vmbus_channel_message_header hdr;
	struct vmbus_channel_offer_channel offer;
	struct vmbus_channel_rescind_offer rescind;
	struct vmbus_channel_open_channel open;
	struct vmbus_channel_open_result open_result;
	struct vmbus_channel_close_channel close;
	struct vmbus_channel_gpadl_header gpadl_header;
	struct vmbus_channel_gpadl_body gpadl_body;
	struct vmbus_channel_gpadl_created gpadl_created;
	struct vmbus_channel_gpadl_teardown gpadl_teardown;
	struct vmbus_channel_gpadl_torndown gpadl_torndown;
	struct vmbus_channel_relid_released relid_released;
	struct vmbus_channel_initiate_contact initiate;
	struct vmbus_channel_version_response version;
	struct vmbus_channel_tl_connect_request tl_request;
	struct vmbus_channel_tl_connect_result tl_result;
	struct vmbus_channel_modifychannel modify;
	struct vmbus_channel_modifychannel_response modify_response;
};

VIRIDIAN_WIRE_SIZE(union vmbus_channel_msg_any, HV_MESSAGE_PAYLOAD_BYTES);

#endif /* VIRIDIAN_WIRE_VMBUS_H */
