// SPDX-License-Identifier: GPL-2.0
/* kunit-sources: */
/*
 * Wire layouts as the guest compiler sees them. The headers assert each
 * structure's size at build time; these tests pin the field offsets and GUID
 * byte orders the host's side of the wire relies on (TLFS, VMBus, ICs), so a
 * reordered field cannot hide behind an unchanged size.
 */
#include <kunit/test.h>
#include <linux/stddef.h>
#include <viridian/wire/hv.h>
#include <viridian/wire/ic.h>
#include <viridian/wire/ring.h>
#include <viridian/wire/sim.h>
#include <viridian/wire/vmbus.h>

#define EXPECT_OFFSET(test, type, field, off) \
	KUNIT_EXPECT_EQ_MSG(test, offsetof(type, field), (size_t)(off), \
			    #type "." #field)

static void wire_layout_hv_message(struct kunit *test)
{
	EXPECT_OFFSET(test, struct hv_message_header, message_type, 0);
	EXPECT_OFFSET(test, struct hv_message_header, payload_size, 4);
	EXPECT_OFFSET(test, struct hv_message_header, message_flags, 5);
	EXPECT_OFFSET(test, struct hv_message_header, sender, 8);
	EXPECT_OFFSET(test, struct hv_message, payload, 16);
	KUNIT_EXPECT_EQ(test, sizeof_field(struct hv_message, payload),
			(size_t)HV_MESSAGE_PAYLOAD_BYTES);

	EXPECT_OFFSET(test, struct hv_input_post_message, connection_id, 0);
	EXPECT_OFFSET(test, struct hv_input_post_message, message_type, 8);
	EXPECT_OFFSET(test, struct hv_input_post_message, payload_size, 12);
	EXPECT_OFFSET(test, struct hv_input_post_message, payload, 16);

	/* One 256-byte slot per SINT; 2048 event flags per SINT. */
	EXPECT_OFFSET(test, struct hv_message_page,
		      sint_message[VMBUS_MESSAGE_SINT], 2 * 256);
	EXPECT_OFFSET(test, struct hv_synic_event_flags_page,
		      sintevent_flags[VMBUS_MESSAGE_SINT], 2 * 256);
	EXPECT_OFFSET(test, struct hv_reference_tsc_page, tsc_scale, 8);
	EXPECT_OFFSET(test, struct hv_reference_tsc_page, tsc_offset, 16);
}

static void wire_layout_channel_messages(struct kunit *test)
{
	EXPECT_OFFSET(test, struct vmbus_channel_offer, if_instance, 16);
	EXPECT_OFFSET(test, struct vmbus_channel_offer, chn_flags, 48);
	EXPECT_OFFSET(test, struct vmbus_channel_offer, mmio_megabytes, 50);
	EXPECT_OFFSET(test, struct vmbus_channel_offer, user_def, 52);
	EXPECT_OFFSET(test, struct vmbus_channel_offer, sub_channel_index, 172);

	EXPECT_OFFSET(test, struct vmbus_channel_offer_channel, offer, 8);
	EXPECT_OFFSET(test, struct vmbus_channel_offer_channel, child_relid, 184);
	EXPECT_OFFSET(test, struct vmbus_channel_offer_channel, monitorid, 188);
	EXPECT_OFFSET(test, struct vmbus_channel_offer_channel, monitor_flags, 189);
	EXPECT_OFFSET(test, struct vmbus_channel_offer_channel, interrupt_flags, 190);
	EXPECT_OFFSET(test, struct vmbus_channel_offer_channel, connection_id, 192);

	EXPECT_OFFSET(test, struct vmbus_channel_open_channel, openid, 12);
	EXPECT_OFFSET(test, struct vmbus_channel_open_channel, ringbuffer_gpadlhandle, 16);
	EXPECT_OFFSET(test, struct vmbus_channel_open_channel, target_vp, 20);
	EXPECT_OFFSET(test, struct vmbus_channel_open_channel,
		      downstream_ringbuffer_pageoffset, 24);
	EXPECT_OFFSET(test, struct vmbus_channel_open_channel, userdata, 28);
	EXPECT_OFFSET(test, struct vmbus_channel_open_result, status, 16);

	EXPECT_OFFSET(test, struct vmbus_channel_gpadl_header, range_buflen, 16);
	EXPECT_OFFSET(test, struct vmbus_channel_gpadl_header, rangecount, 18);
	EXPECT_OFFSET(test, struct vmbus_channel_gpadl_header, range, 20);
	EXPECT_OFFSET(test, struct vmbus_channel_gpadl_body, pfn, 16);
	KUNIT_EXPECT_EQ(test, (size_t)VMBUS_GPADL_HEADER_PFNS, (size_t)26);
	KUNIT_EXPECT_EQ(test, (size_t)VMBUS_GPADL_BODY_PFNS, (size_t)28);

	EXPECT_OFFSET(test, struct vmbus_channel_initiate_contact, vmbus_version_requested, 8);
	EXPECT_OFFSET(test, struct vmbus_channel_initiate_contact, target_vcpu, 12);
	EXPECT_OFFSET(test, struct vmbus_channel_initiate_contact, interrupt_page_or_sint, 16);
	EXPECT_OFFSET(test, struct vmbus_channel_initiate_contact, monitor_page1, 24);
	EXPECT_OFFSET(test, struct vmbus_channel_initiate_contact, monitor_page2, 32);
	EXPECT_OFFSET(test, struct vmbus_channel_version_response, connection_state, 9);
	EXPECT_OFFSET(test, struct vmbus_channel_version_response, msg_conn_id, 12);
	EXPECT_OFFSET(test, struct vmbus_channel_modifychannel, target_vp, 12);
}

static void wire_layout_monitor_page(struct kunit *test)
{
	EXPECT_OFFSET(test, struct hv_monitor_page, trigger_group, 8);
	EXPECT_OFFSET(test, struct hv_monitor_page, next_check_time, 64);
	EXPECT_OFFSET(test, struct hv_monitor_page, latency, 576);
	EXPECT_OFFSET(test, struct hv_monitor_page, parameter, 1088);
	KUNIT_EXPECT_EQ(test, sizeof(struct hv_monitor_parameter), (size_t)8);
}

static void wire_layout_ring(struct kunit *test)
{
	EXPECT_OFFSET(test, struct vmbus_ring_control, read_index, 4);
	EXPECT_OFFSET(test, struct vmbus_ring_control, interrupt_mask, 8);
	EXPECT_OFFSET(test, struct vmbus_ring_control, pending_send_sz, 12);
	EXPECT_OFFSET(test, struct vmbus_ring_control, feature_bits, 64);

	EXPECT_OFFSET(test, struct vmpacket_descriptor, offset8, 2);
	EXPECT_OFFSET(test, struct vmpacket_descriptor, len8, 4);
	EXPECT_OFFSET(test, struct vmpacket_descriptor, flags, 6);
	EXPECT_OFFSET(test, struct vmpacket_descriptor, trans_id, 8);
	EXPECT_OFFSET(test, struct vmtransfer_page_packet_header, range_cnt, 20);
	EXPECT_OFFSET(test, struct vmbus_packet_gpa_direct, range_count, 20);
	EXPECT_OFFSET(test, struct vmbus_packet_gpa_range, pfn_array, 8);
}

static void wire_layout_ic(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct ic_version), (size_t)4);
	EXPECT_OFFSET(test, struct icmsg_hdr, icmsgtype, 4);
	EXPECT_OFFSET(test, struct icmsg_hdr, icvermsg, 6);
	EXPECT_OFFSET(test, struct icmsg_hdr, icmsgsize, 10);
	EXPECT_OFFSET(test, struct icmsg_hdr, status, 12);
	EXPECT_OFFSET(test, struct icmsg_hdr, ictransaction_id, 16);
	EXPECT_OFFSET(test, struct icmsg_hdr, icflags, 17);
	KUNIT_EXPECT_EQ(test, IC_HEADER_SIZE, (size_t)28);
	EXPECT_OFFSET(test, struct icmsg_negotiate, icversion_data, 8);

	EXPECT_OFFSET(test, struct ic_shutdown_msg, flags, 8);
	EXPECT_OFFSET(test, struct ic_shutdown_msg, display_message, 12);
	EXPECT_OFFSET(test, struct ic_timesync_msg, flags, 24);
	EXPECT_OFFSET(test, struct ic_timesync_ref_msg, vmreferencetime, 8);
	EXPECT_OFFSET(test, struct ic_timesync_ref_msg, stratum, 18);
}

static void wire_layout_sim(struct kunit *test)
{
	EXPECT_OFFSET(test, struct hvsim_shm_header, abi_version, 16);
	EXPECT_OFFSET(test, struct hvsim_shm_header, signal_bits, 40);
	EXPECT_OFFSET(test, struct hvsim_mailbox, op, 8);
	EXPECT_OFFSET(test, struct hvsim_mailbox, in, 16);
	EXPECT_OFFSET(test, struct hvsim_mailbox, out, 48);
	KUNIT_EXPECT_LE(test, sizeof(struct hvsim_mailbox), (size_t)HVSIM_MAILBOX_STRIDE);
	/* The signal bitmap must fit in the shared memory after the mailboxes. */
	KUNIT_EXPECT_LE(test, (size_t)HVSIM_SIGNAL_OFFSET + HVSIM_SIGNAL_CONNECTIONS / 8,
			(size_t)HVSIM_SHM_SIZE);
}

/*
 * GUIDs travel in the mixed-endian Microsoft layout: the first three groups
 * little-endian, the last two as bytes.
 */
static void wire_layout_guid_bytes(struct kunit *test)
{
	static const u8 heartbeat[16] = {
		0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e,
		0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d,
	};
	static const u8 scsi[16] = {
		0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
		0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f,
	};
	guid_t hb = VMBUS_CLASS_HEARTBEAT;
	guid_t sc = VMBUS_CLASS_SCSI;

	KUNIT_EXPECT_EQ(test, memcmp(&hb, heartbeat, sizeof(hb)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(&sc, scsi, sizeof(sc)), 0);
}

static struct kunit_case wire_layout_cases[] = {
	KUNIT_CASE(wire_layout_hv_message),
	KUNIT_CASE(wire_layout_channel_messages),
	KUNIT_CASE(wire_layout_monitor_page),
	KUNIT_CASE(wire_layout_ring),
	KUNIT_CASE(wire_layout_ic),
	KUNIT_CASE(wire_layout_sim),
	KUNIT_CASE(wire_layout_guid_bytes),
	{}
};

static struct kunit_suite wire_layout_suite = {
	.name = "viridian_wire_layout",
	.test_cases = wire_layout_cases,
};

kunit_test_suite(wire_layout_suite);

MODULE_LICENSE("GPL");
