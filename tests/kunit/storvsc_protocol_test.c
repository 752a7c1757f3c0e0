// SPDX-License-Identifier: GPL-2.0
/* kunit-sources: drivers/storvsc/storvsc_protocol.c */
/*
 * KUnit tests for the storage client's pure logic: wire sizes, version
 * choice, packet sizes by version, sense parsing and classification, the
 * SRB-status-to-SCSI-result mapping, transfer limits and queue sizing.
 */
#include <kunit/test.h>
#include <linux/stddef.h>
#include <scsi/scsi_proto.h>
#include <scsi/scsi_status.h>

#include "storvsc_protocol.h"

static void storvsc_test_wire_layout(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct vstor_packet), 64);
	KUNIT_EXPECT_EQ(test, sizeof(struct vmscsi_request), 52);
	KUNIT_EXPECT_EQ(test, offsetof(struct vmscsi_request, reserve),
			VMSCSI_REQUEST_SIZE_PRE_WIN8);
	KUNIT_EXPECT_EQ(test, offsetof(struct vmscsi_request, cdb), 16);
	KUNIT_EXPECT_EQ(test, offsetof(struct vmscsi_request, srb_flags), 40);
	KUNIT_EXPECT_EQ(test, offsetof(struct vstor_packet, vm_srb), 12);
	KUNIT_EXPECT_EQ(test, sizeof(struct vmstorage_channel_properties), 24);
	KUNIT_EXPECT_EQ(test, offsetof(struct vmstorage_channel_properties,
				       max_transfer_bytes), 12);
	KUNIT_EXPECT_EQ(test, sizeof(struct vmstorage_fc_wwn), 36);
	KUNIT_EXPECT_EQ(test, sizeof(struct vmstorage_protocol_version), 4);
}

static void storvsc_test_versions(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_count(), 4u);
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_at(0), 0x0602);
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_at(1), 0x0600);
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_at(2), 0x0501);
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_at(3), 0x0402);
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_at(4), 0);
	KUNIT_EXPECT_EQ(test, storvsc_proto_version_at(1000), 0);

	KUNIT_EXPECT_TRUE(test, storvsc_proto_has_subchannels(VMSTOR_PROTO_VERSION_WIN8));
	KUNIT_EXPECT_FALSE(test, storvsc_proto_has_subchannels(VMSTOR_PROTO_VERSION_WIN7));
}

static void storvsc_test_packet_sizes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vstor_packet_size(VMSTOR_PROTO_VERSION_WIN7), 48u);
	KUNIT_EXPECT_EQ(test, vstor_packet_size(VMSTOR_PROTO_VERSION_WIN6), 48u);
	KUNIT_EXPECT_EQ(test, vstor_packet_size(VMSTOR_PROTO_VERSION_WIN8), 64u);
	KUNIT_EXPECT_EQ(test, vstor_packet_size(VMSTOR_PROTO_VERSION_WIN8_1), 64u);
	KUNIT_EXPECT_EQ(test, vstor_packet_size(VMSTOR_PROTO_VERSION_WIN10), 64u);

	KUNIT_EXPECT_EQ(test, vstor_sense_size(VMSTOR_PROTO_VERSION_WIN7), 18);
	KUNIT_EXPECT_EQ(test, vstor_sense_size(VMSTOR_PROTO_VERSION_WIN10), 20);
	KUNIT_EXPECT_EQ(test, vstor_srb_size(VMSTOR_PROTO_VERSION_WIN7), 36);
	KUNIT_EXPECT_EQ(test, vstor_srb_size(VMSTOR_PROTO_VERSION_WIN8_1), 52);
}

static void storvsc_test_command_filters(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, storvsc_proto_cmd_allowed(VMSTOR_PROTO_VERSION_WIN8,
							   WRITE_SAME));
	KUNIT_EXPECT_FALSE(test, storvsc_proto_cmd_allowed(VMSTOR_PROTO_VERSION_WIN7,
							   SET_WINDOW));
	KUNIT_EXPECT_TRUE(test, storvsc_proto_cmd_allowed(VMSTOR_PROTO_VERSION_WIN8,
							  READ_10));
	KUNIT_EXPECT_TRUE(test, storvsc_proto_cmd_allowed(VMSTOR_PROTO_VERSION_WIN8_1,
							  WRITE_SAME));
	KUNIT_EXPECT_TRUE(test, storvsc_proto_cmd_allowed(VMSTOR_PROTO_VERSION_WIN10,
							  SET_WINDOW));

	KUNIT_EXPECT_TRUE(test, storvsc_proto_write_same_ok(VMSTOR_PROTO_VERSION_WIN10, true));
	KUNIT_EXPECT_FALSE(test, storvsc_proto_write_same_ok(VMSTOR_PROTO_VERSION_WIN10, false));
	KUNIT_EXPECT_FALSE(test, storvsc_proto_write_same_ok(VMSTOR_PROTO_VERSION_WIN8_1, true));

	KUNIT_EXPECT_TRUE(test, storvsc_proto_claim_spc3(VMSTOR_PROTO_VERSION_WIN8, true));
	KUNIT_EXPECT_TRUE(test, storvsc_proto_claim_spc3(VMSTOR_PROTO_VERSION_WIN8_1, true));
	KUNIT_EXPECT_FALSE(test, storvsc_proto_claim_spc3(VMSTOR_PROTO_VERSION_WIN10, true));
	KUNIT_EXPECT_FALSE(test, storvsc_proto_claim_spc3(VMSTOR_PROTO_VERSION_WIN8, false));
}

static void storvsc_test_sense_parse(struct kunit *test)
{
	u8 fixed[18] = { 0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x2a, 0x09 };
	u8 deferred[18] = { 0xf1, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00 };
	u8 desc[8] = { 0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0 };
	u8 bogus[18] = { 0x00, 0, 0x06 };
	struct storvsc_sense s;

	KUNIT_EXPECT_TRUE(test, storvsc_sense_parse(fixed, sizeof(fixed), &s));
	KUNIT_EXPECT_EQ(test, s.key, 0x06);
	KUNIT_EXPECT_EQ(test, s.asc, 0x2a);
	KUNIT_EXPECT_EQ(test, s.ascq, 0x09);

	/* Valid bit set, deferred error. */
	KUNIT_EXPECT_TRUE(test, storvsc_sense_parse(deferred, sizeof(deferred), &s));
	KUNIT_EXPECT_EQ(test, s.key, 0x03);
	KUNIT_EXPECT_EQ(test, s.asc, 0x11);

	/* Too short for ASC: the key alone. */
	KUNIT_EXPECT_TRUE(test, storvsc_sense_parse(fixed, 8, &s));
	KUNIT_EXPECT_EQ(test, s.key, 0x06);
	KUNIT_EXPECT_EQ(test, s.asc, 0);

	/* Additional length too small to cover ASC. */
	fixed[7] = 4;
	KUNIT_EXPECT_TRUE(test, storvsc_sense_parse(fixed, sizeof(fixed), &s));
	KUNIT_EXPECT_EQ(test, s.asc, 0);

	KUNIT_EXPECT_TRUE(test, storvsc_sense_parse(desc, sizeof(desc), &s));
	KUNIT_EXPECT_EQ(test, s.key, 0x05);
	KUNIT_EXPECT_EQ(test, s.asc, 0x24);

	KUNIT_EXPECT_FALSE(test, storvsc_sense_parse(desc, 3, &s));
	KUNIT_EXPECT_FALSE(test, storvsc_sense_parse(bogus, sizeof(bogus), &s));
	KUNIT_EXPECT_FALSE(test, storvsc_sense_parse(fixed, 0, &s));
	KUNIT_EXPECT_FALSE(test, storvsc_sense_parse(NULL, 18, &s));
}

static void storvsc_test_sense_classify(struct kunit *test)
{
	struct storvsc_sense s = { .key = 0x06, .asc = 0x2a, .ascq = 0x09 };

	KUNIT_EXPECT_EQ(test, storvsc_sense_classify(&s), STORVSC_SENSE_CAPACITY_CHANGED);
	s.ascq = 0x01;		/* mode parameters changed */
	KUNIT_EXPECT_EQ(test, storvsc_sense_classify(&s), STORVSC_SENSE_OTHER);
	s.asc = 0x3f;
	KUNIT_EXPECT_EQ(test, storvsc_sense_classify(&s),
			STORVSC_SENSE_OPERATING_PARAMS_CHANGED);
	s.ascq = 0x0e;
	KUNIT_EXPECT_EQ(test, storvsc_sense_classify(&s), STORVSC_SENSE_LUNS_CHANGED);
	s.ascq = 0x03;
	KUNIT_EXPECT_EQ(test, storvsc_sense_classify(&s), STORVSC_SENSE_OTHER);
	s.key = 0x05;
	s.asc = 0x2a;
	s.ascq = 0x09;
	KUNIT_EXPECT_EQ(test, storvsc_sense_classify(&s), STORVSC_SENSE_OTHER);
}

static void storvsc_io(struct storvsc_io_status *st, u8 srb, u8 scsi, u8 opcode,
		       u32 requested, u32 transferred)
{
	memset(st, 0, sizeof(*st));
	st->srb_status = srb;
	st->scsi_status = scsi;
	st->opcode = opcode;
	st->requested = requested;
	st->transferred = transferred;
}

static void storvsc_with_sense(struct storvsc_io_status *st, u8 key, u8 asc,
			       u8 ascq)
{
	st->srb_status |= SRB_STATUS_AUTOSENSE_VALID;
	st->sense_valid = true;
	st->sense.key = key;
	st->sense.asc = asc;
	st->sense.ascq = ascq;
}

static void storvsc_test_map_success(struct kunit *test)
{
	struct storvsc_io_status st;
	struct storvsc_io_result r;

	storvsc_io(&st, SRB_STATUS_SUCCESS, SAM_STAT_GOOD, READ_10, 4096, 4096);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.scsi_status, SAM_STAT_GOOD);
	KUNIT_EXPECT_EQ(test, r.resid, 0u);
	KUNIT_EXPECT_FALSE(test, r.copy_sense);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_NONE);
	KUNIT_EXPECT_EQ(test, r.log, STORVSC_LOG_NONE);

	/* Short read. */
	storvsc_io(&st, SRB_STATUS_SUCCESS, SAM_STAT_GOOD, INQUIRY, 96, 36);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.resid, 60u);

	/* A host claiming more than was offered is clamped. */
	storvsc_io(&st, SRB_STATUS_SUCCESS, SAM_STAT_GOOD, READ_10, 512, 1 << 20);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.resid, 0u);

	/* Flag bits do not hide the code. */
	storvsc_io(&st, SRB_STATUS_SUCCESS | SRB_STATUS_QUEUE_FROZEN, SAM_STAT_GOOD,
		   READ_10, 512, 512);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);

	/* Underrun reported by the host: its length counts. */
	storvsc_io(&st, SRB_STATUS_DATA_OVERRUN, SAM_STAT_GOOD, READ_10, 8192, 4096);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.resid, 4096u);
}

static void storvsc_test_map_sense(struct kunit *test)
{
	struct storvsc_io_status st;
	struct storvsc_io_result r;

	/* Medium error: the midlayer gets the sense and maps the errno. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_CHECK_CONDITION, READ_10, 4096, 4096);
	storvsc_with_sense(&st, 0x03, 0x11, 0x00);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.scsi_status, SAM_STAT_CHECK_CONDITION);
	KUNIT_EXPECT_TRUE(test, r.copy_sense);
	KUNIT_EXPECT_EQ(test, r.resid, 4096u);
	KUNIT_EXPECT_EQ(test, r.log, STORVSC_LOG_ERROR);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_NONE);

	/* Resize: retry the command, rescan the disk. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_CHECK_CONDITION, WRITE_10, 512, 0);
	storvsc_with_sense(&st, 0x06, 0x2a, 0x09);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_REQUEUE);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_RESCAN_DEVICE);
	KUNIT_EXPECT_EQ(test, r.log, STORVSC_LOG_WARN);

	/* Operating parameters changed: the same. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_CHECK_CONDITION, READ_16, 512, 0);
	storvsc_with_sense(&st, 0x06, 0x3f, 0x01);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_REQUEUE);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_RESCAN_DEVICE);

	/* LUN inventory changed: pass it up and scan for new LUNs. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_CHECK_CONDITION, TEST_UNIT_READY, 0, 0);
	storvsc_with_sense(&st, 0x06, 0x3f, 0x0e);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_TRUE(test, r.copy_sense);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_SCAN_HOST);

	/* Other unit attentions only warn. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_CHECK_CONDITION, READ_10, 512, 0);
	storvsc_with_sense(&st, 0x06, 0x29, 0x00);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.log, STORVSC_LOG_WARN);

	/* CHECK CONDITION without valid sense is an error with no sense. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_CHECK_CONDITION, READ_10, 512, 512);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_ERROR);
	KUNIT_EXPECT_FALSE(test, r.copy_sense);
	KUNIT_EXPECT_EQ(test, r.resid, 512u);
}

static void storvsc_test_map_errors(struct kunit *test)
{
	struct storvsc_io_status st;
	struct storvsc_io_result r;

	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_GOOD, WRITE_10, 4096, 4096);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_ERROR);
	KUNIT_EXPECT_EQ(test, r.resid, 4096u);
	KUNIT_EXPECT_EQ(test, r.log, STORVSC_LOG_ERROR);

	storvsc_io(&st, SRB_STATUS_INVALID_LUN, SAM_STAT_GOOD, READ_10, 512, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_NO_CONNECT);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_REMOVE_DEVICE);

	/* INVALID_LUN wins even with sense attached. */
	storvsc_io(&st, SRB_STATUS_INVALID_LUN, SAM_STAT_CHECK_CONDITION, INQUIRY, 36, 0);
	storvsc_with_sense(&st, 0x05, 0x25, 0x00);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_NO_CONNECT);

	storvsc_io(&st, SRB_STATUS_SELECTION_TIMEOUT, SAM_STAT_GOOD, INQUIRY, 36, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_NO_CONNECT);
	KUNIT_EXPECT_EQ(test, r.followup, STORVSC_FOLLOWUP_NONE);

	storvsc_io(&st, SRB_STATUS_BUSY, SAM_STAT_GOOD, READ_10, 512, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_BUS_BUSY);

	storvsc_io(&st, SRB_STATUS_COMMAND_TIMEOUT, SAM_STAT_GOOD, READ_10, 512, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_TIME_OUT);

	storvsc_io(&st, SRB_STATUS_BUS_RESET, SAM_STAT_GOOD, READ_10, 512, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_RESET);

	/* Never success for a status this driver does not know. */
	storvsc_io(&st, 0x3e, SAM_STAT_GOOD, READ_10, 512, 512);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_ERROR);
	KUNIT_EXPECT_EQ(test, r.resid, 512u);
	storvsc_io(&st, SRB_STATUS_PENDING, SAM_STAT_GOOD, READ_10, 512, 512);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_ERROR);
}

static void storvsc_test_map_quirks(struct kunit *test)
{
	struct storvsc_io_status st;
	struct storvsc_io_result r;

	/* INQUIRY of a page the host cannot serve: short but successful. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_GOOD, INQUIRY, 255, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.scsi_status, SAM_STAT_GOOD);
	KUNIT_EXPECT_EQ(test, r.resid, 255u);

	storvsc_io(&st, SRB_STATUS_INVALID_REQUEST, SAM_STAT_GOOD, MODE_SENSE_10, 64, 8);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.resid, 56u);

	/* TEST UNIT READY failing without sense is left to sd. */
	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_BUSY, TEST_UNIT_READY, 0, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_OK);
	KUNIT_EXPECT_EQ(test, r.scsi_status, SAM_STAT_BUSY);

	storvsc_io(&st, SRB_STATUS_ERROR, SAM_STAT_GOOD, ATA_16, 512, 0);
	storvsc_map_completion(&st, &r);
	KUNIT_EXPECT_EQ(test, r.host_byte, DID_PASSTHROUGH);
}

static void storvsc_test_limits(struct kunit *test)
{
	struct storvsc_limits l;

	storvsc_transfer_limits(2 << 20, false, VMSTOR_RING_DATA_BYTES, 512 << 10, &l);
	KUNIT_EXPECT_EQ(test, l.max_bytes, 2u << 20);
	KUNIT_EXPECT_EQ(test, l.max_sectors, 4096u);
	KUNIT_EXPECT_EQ(test, l.sg_tablesize, 513u);

	/* Synthetic FC is capped at 512 KiB. */
	storvsc_transfer_limits(2 << 20, true, VMSTOR_RING_DATA_BYTES, 512 << 10, &l);
	KUNIT_EXPECT_EQ(test, l.max_bytes, 512u << 10);

	/* Not a page multiple: rounded down. */
	storvsc_transfer_limits(1000000, false, VMSTOR_RING_DATA_BYTES, 512 << 10, &l);
	KUNIT_EXPECT_EQ(test, l.max_bytes, 244u * 4096);
	KUNIT_EXPECT_EQ(test, l.sg_tablesize, 245u);

	/* Nonsense from the host: the fallback. */
	storvsc_transfer_limits(0, false, VMSTOR_RING_DATA_BYTES, 512 << 10, &l);
	KUNIT_EXPECT_EQ(test, l.max_bytes, 512u << 10);
	storvsc_transfer_limits(100, false, VMSTOR_RING_DATA_BYTES, 512 << 10, &l);
	KUNIT_EXPECT_EQ(test, l.max_bytes, 512u << 10);

	/* Huge: one packet stays within a quarter of the ring. */
	storvsc_transfer_limits(0xfffff000u, false, VMSTOR_RING_DATA_BYTES, 512 << 10, &l);
	KUNIT_EXPECT_LE(test, storvsc_srb_footprint(l.sg_tablesize, VSTOR_PACKET_SIZE),
			VMSTOR_RING_DATA_BYTES / 4);
	KUNIT_EXPECT_GT(test, l.max_bytes, 8u << 20);
	KUNIT_EXPECT_EQ(test, l.max_sectors, l.max_bytes >> 9);
}

static void storvsc_test_sizing(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, storvsc_buffer_pages(0, 0), 0u);
	KUNIT_EXPECT_EQ(test, storvsc_buffer_pages(0, 4096), 1u);
	KUNIT_EXPECT_EQ(test, storvsc_buffer_pages(1, 4096), 2u);
	KUNIT_EXPECT_EQ(test, storvsc_buffer_pages(4095, 2), 2u);
	KUNIT_EXPECT_EQ(test, storvsc_buffer_pages(512, 2u << 20), 513u);

	/* Descriptor and packet, padded, plus the trailer. */
	KUNIT_EXPECT_EQ(test, storvsc_srb_footprint(0, 64), 16u + 64 + 8);
	KUNIT_EXPECT_EQ(test, storvsc_srb_footprint(1, 64), 24u + 8 + 8 + 64 + 8);
	KUNIT_EXPECT_EQ(test, storvsc_srb_footprint(1, 48), 24u + 8 + 8 + 48 + 8);

	KUNIT_EXPECT_EQ(test, storvsc_channel_queue_depth(128 * 1024, 64, 33, 10),
			(128u * 1024 / 368) * 90 / 100);
	KUNIT_EXPECT_EQ(test, storvsc_channel_queue_depth(4096, 64, 1000, 10), 1u);

	KUNIT_EXPECT_TRUE(test, storvsc_ring_has_room(20000, 131072, 10, 400));
	KUNIT_EXPECT_FALSE(test, storvsc_ring_has_room(10000, 131072, 10, 400));
	KUNIT_EXPECT_FALSE(test, storvsc_ring_has_room(300, 1000, 10, 400));
	KUNIT_EXPECT_FALSE(test, storvsc_ring_has_room(400, 1000, 10, 400));
}

static void storvsc_test_subchannels(struct kunit *test)
{
	u16 v = VMSTOR_PROTO_VERSION_WIN10;

	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(4, 8, 0, true, v), 3);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(64, 8, 0, true, v), 8);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(4, 8, 2, true, v), 1);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(4, 8, 1, true, v), 0);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(1, 8, 0, true, v), 0);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(4, 8, 0, false, v), 0);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(4, 0, 0, true, v), 0);
	KUNIT_EXPECT_EQ(test, storvsc_subchannels_wanted(4, 8, 0, true,
							 VMSTOR_PROTO_VERSION_WIN7), 0);
}

static void storvsc_test_fc_wwns(struct kunit *test)
{
	struct vmstorage_fc_wwn w = {
		.primary_active = 1,
		.primary_port_wwn = { 0x10, 0, 0, 0, 0, 0, 0, 0x01 },
		.primary_node_wwn = { 0x20, 0, 0, 0, 0, 0, 0, 0x02 },
		.secondary_port_wwn = { 0x50, 0x01, 0x43, 0x80, 0, 0, 0, 0x03 },
		.secondary_node_wwn = { 0x50, 0x01, 0x43, 0x80, 0, 0, 0, 0x04 },
	};
	u64 port, node;

	storvsc_fc_wwns(&w, &port, &node);
	KUNIT_EXPECT_EQ(test, port, 0x1000000000000001ull);
	KUNIT_EXPECT_EQ(test, node, 0x2000000000000002ull);

	w.primary_active = 0;
	storvsc_fc_wwns(&w, &port, &node);
	KUNIT_EXPECT_EQ(test, port, 0x5001438000000003ull);
	KUNIT_EXPECT_EQ(test, node, 0x5001438000000004ull);
}

static void storvsc_test_ide_target(struct kunit *test)
{
	guid_t g = GUID_INIT(0x12345678, 0x0001, 0x0000, 0, 0, 0, 0, 0, 0, 0, 0);

	KUNIT_EXPECT_EQ(test, vmstor_ide_target(&g), 1);
}

static struct kunit_case storvsc_protocol_cases[] = {
	KUNIT_CASE(storvsc_test_wire_layout),
	KUNIT_CASE(storvsc_test_versions),
	KUNIT_CASE(storvsc_test_packet_sizes),
	KUNIT_CASE(storvsc_test_command_filters),
	KUNIT_CASE(storvsc_test_sense_parse),
	KUNIT_CASE(storvsc_test_sense_classify),
	KUNIT_CASE(storvsc_test_map_success),
	KUNIT_CASE(storvsc_test_map_sense),
	KUNIT_CASE(storvsc_test_map_errors),
	KUNIT_CASE(storvsc_test_map_quirks),
	KUNIT_CASE(storvsc_test_limits),
	KUNIT_CASE(storvsc_test_sizing),
	KUNIT_CASE(storvsc_test_subchannels),
	KUNIT_CASE(storvsc_test_fc_wwns),
	KUNIT_CASE(storvsc_test_ide_target),
	{}
};

static struct kunit_suite storvsc_protocol_suite = {
	.name = "viridian_storvsc_protocol",
	.test_cases = storvsc_protocol_cases,
};

kunit_test_suite(storvsc_protocol_suite);

MODULE_LICENSE("GPL");
