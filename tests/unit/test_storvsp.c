// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of the storage VSP's protocol engine (host-sim/vsp/
 * storvsp_proto.c): negotiation, properties, SRBs over GPA-direct packets
 * into a fake guest RAM, addressing, stalls and resets, and a battery of
 * malformed and mutated packets that must all be answered or dropped,
 * never crash.
 */
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "core/loop.h"
#include "scsi/disk.h"
#include "viridian/wire/ring.h"
#include "viridian/wire/storage.h"
#include "vsp/storvsp.h"
#include "vsp/storvsp_proto.h"
#include "vmbus_fake.h"

#define RAM_PAGES	64
#define DISK_BYTES	(8u * 1024u * 1024u)

static struct guest_mem ram;
static struct storvsp_io io;
static struct storvsp_ctrl ctrl;
static char img[2][64];

struct pkt {
	struct vmpacket_descriptor desc;
	uint8_t raw[16 + 16 + 8 * STORVSP_MAX_DATA_PAGES + 64];
	uint32_t len;			/* descriptor included */
};

static void *gpa(void *ctx, uint64_t addr, uint64_t len)
{
	return guest_mem_ptr(ctx, addr, len);
}

static uint8_t *page(uint64_t pfn)
{
	return ram.base + pfn * GUEST_PAGE_SIZE;
}

static uint32_t align8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

static void finish_pkt(struct pkt *p, uint16_t type, uint32_t hdr,
		       const void *vp, uint32_t vlen, uint64_t trans)
{
	p->desc.type = type;
	p->desc.offset8 = (uint16_t)((16 + hdr) / 8);
	p->desc.len8 = (uint16_t)((16 + hdr + align8(vlen)) / 8);
	p->desc.flags = VMBUS_PKT_FLAG_COMPLETION_REQUESTED;
	p->desc.trans_id = trans;
	memcpy(p->raw, &p->desc, 16);
	memset(p->raw + 16 + hdr, 0, align8(vlen));
	memcpy(p->raw + 16 + hdr, vp, vlen);
	p->len = p->desc.len8 * 8u;
}

static void build_inband(struct pkt *p, const struct vstor_packet *vp,
			 uint32_t vlen, uint64_t trans)
{
	memset(p, 0, sizeof(*p));
	finish_pkt(p, VM_PKT_DATA_INBAND, 0, vp, vlen, trans);
}

static void build_gpa(struct pkt *p, const struct vstor_packet *vp,
		      uint32_t range_count, uint32_t byte_offset,
		      uint32_t byte_count, const uint64_t *pfns,
		      uint32_t npfns, uint64_t trans)
{
	uint8_t *h = p->raw + 16;

	memset(p, 0, sizeof(*p));
	memcpy(h + 4, &range_count, 4);
	memcpy(h + 8, &byte_count, 4);
	memcpy(h + 12, &byte_offset, 4);
	memcpy(h + 16, pfns, 8 * npfns);
	finish_pkt(p, VM_PKT_DATA_USING_GPA_DIRECT, 16 + 8 * npfns, vp,
		   sizeof(*vp), trans);
}

static enum storvsp_action send_pkt(struct pkt *p, bool primary,
				    unsigned int flags, uint64_t now,
				    struct storvsp_reply *r)
{
	return storvsp_handle_packet(&ctrl, primary, &p->desc, p->raw + 16,
				     p->len - 16, flags, now, &io, r);
}

static const struct vstor_packet *rsp(const struct storvsp_reply *r)
{
	return (const struct vstor_packet *)r->data;
}

static enum storvsp_action simple_op(uint32_t op, uint32_t vlen,
				     struct storvsp_reply *r)
{
	struct vstor_packet vp;
	struct pkt p;

	memset(&vp, 0, sizeof(vp));
	vp.operation = op;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	build_inband(&p, &vp, vlen, 7);
	return send_pkt(&p, true, 0, 0, r);
}

static enum storvsp_action query_version(uint16_t v, struct storvsp_reply *r)
{
	struct vstor_packet vp;
	struct pkt p;

	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	vp.version.major_minor = v;
	build_inband(&p, &vp, sizeof(vp), 8);
	return send_pkt(&p, true, 0, 0, r);
}

/* Bring the controller to READY with version v. */
static bool negotiate(uint16_t v)
{
	struct storvsp_reply r;

	if (simple_op(VSTOR_OPERATION_BEGIN_INITIALIZATION, 64, &r) !=
	    STORVSP_ACT_REPLY || rsp(&r)->status)
		return false;
	if (query_version(v, &r) != STORVSP_ACT_REPLY || rsp(&r)->status)
		return false;
	if (simple_op(VSTOR_OPERATION_END_INITIALIZATION, 64, &r) !=
	    STORVSP_ACT_REPLY || rsp(&r)->status)
		return false;
	return true;
}

static bool setup(void)
{
	char err[256];

	memset(&ram, 0, sizeof(ram));
	ram.base = aligned_alloc(GUEST_PAGE_SIZE, RAM_PAGES * GUEST_PAGE_SIZE);
	if (!ram.base)
		return false;
	memset(ram.base, 0, RAM_PAGES * GUEST_PAGE_SIZE);
	ram.size = RAM_PAGES * GUEST_PAGE_SIZE;
	ram.nr_pages = RAM_PAGES;
	ram.fd = -1;
	io.gpa = gpa;
	io.gpa_ctx = &ram;
	if (storvsp_ctrl_init(&ctrl, 0, 4))
		return false;
	/* LUN 0 and LUN 2: a gap at 1. */
	for (int i = 0; i < 2; i++) {
		struct scsi_disk *d;
		int fd;

		strcpy(img[i], "/tmp/test_storvsp.XXXXXX");
		fd = mkstemp(img[i]);
		if (fd < 0 || ftruncate(fd, DISK_BYTES) < 0)
			return false;
		close(fd);
		d = scsi_disk_open(img[i], 512, false, err, sizeof(err));
		if (!d || storvsp_ctrl_attach(&ctrl, i ? 2 : 0, (unsigned)i, d))
			return false;
	}
	return true;
}

static void teardown(void)
{
	storvsp_ctrl_fini(&ctrl);
	for (int i = 0; i < 2; i++)
		unlink(img[i]);
	free(ram.base);
}

static void srb_init(struct vstor_packet *vp, uint8_t lun, uint8_t op,
		     uint32_t data_len, uint8_t dir)
{
	memset(vp, 0, sizeof(*vp));
	vp->operation = VSTOR_OPERATION_EXECUTE_SRB;
	vp->flags = VSTOR_FLAG_REQUEST_COMPLETION;
	vp->vm_srb.length = VMSCSI_REQUEST_SIZE;
	vp->vm_srb.lun = lun;
	vp->vm_srb.sense_info_length = VMSCSI_SENSE_SIZE;
	vp->vm_srb.data_in = dir;
	vp->vm_srb.data_transfer_length = data_len;
	vp->vm_srb.cdb[0] = op;
	vp->vm_srb.cdb_length = op >= 0x80 ? 16 : op >= 0x20 ? 10 : 6;
}

static void rw10(struct vstor_packet *vp, bool write, uint32_t lba,
		 uint16_t blocks)
{
	srb_init(vp, 0, write ? SCSI_OP_WRITE_10 : SCSI_OP_READ_10,
		 blocks * 512u, write ? VMSCSI_DATA_OUT : VMSCSI_DATA_IN);
	vp->vm_srb.cdb[2] = (uint8_t)(lba >> 24);
	vp->vm_srb.cdb[3] = (uint8_t)(lba >> 16);
	vp->vm_srb.cdb[4] = (uint8_t)(lba >> 8);
	vp->vm_srb.cdb[5] = (uint8_t)lba;
	vp->vm_srb.cdb[7] = (uint8_t)(blocks >> 8);
	vp->vm_srb.cdb[8] = (uint8_t)blocks;
}

static void test_negotiation(void)
{
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p;
	uint8_t buf[VSTOR_PACKET_SIZE];

	storvsp_ctrl_reset_state(&ctrl);
	CHECK(storvsp_build_notification(&ctrl, VSTOR_OPERATION_ENUMERATE_BUS,
					 buf) == 0);
	/* Out of order: version before BEGIN, END before a version. */
	CHECK(query_version(VMSTOR_PROTO_VERSION_WIN10, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_STATE);
	/* Pre-negotiation packets may be the 48-byte short form. */
	CHECK(simple_op(VSTOR_OPERATION_BEGIN_INITIALIZATION,
			VSTOR_PACKET_SIZE_PRE_WIN8, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == 0 && r.len == VSTOR_PACKET_SIZE_PRE_WIN8);
	CHECK(rsp(&r)->operation == VSTOR_OPERATION_COMPLETE_IO);
	CHECK(r.trans_id == 7);
	CHECK(simple_op(VSTOR_OPERATION_END_INITIALIZATION, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_STATE);
	CHECK(simple_op(VSTOR_OPERATION_QUERY_PROPERTIES, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_STATE);

	/* The guest walks down its list. */
	CHECK(query_version(VMSTOR_PROTO_VERSION(7, 0), &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_REVISION_MISMATCH);
	CHECK(query_version(VMSTOR_PROTO_VERSION_WIN7, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_REVISION_MISMATCH);
	CHECK(query_version(VMSTOR_PROTO_VERSION_WIN10, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == 0 && r.len == 64);

	CHECK(simple_op(VSTOR_OPERATION_QUERY_PROPERTIES, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == 0);
	CHECK(rsp(&r)->properties.max_transfer_bytes ==
	      STORVSP_MAX_TRANSFER_BYTES);
	CHECK(rsp(&r)->properties.max_channel_count == 4);
	CHECK(rsp(&r)->properties.flags &
	      STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);

	/* After 6.2 is agreed, 48-byte packets are too short. */
	CHECK(simple_op(VSTOR_OPERATION_END_INITIALIZATION,
			VSTOR_PACKET_SIZE_PRE_WIN8, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_PARAMETER);
	CHECK(simple_op(VSTOR_OPERATION_END_INITIALIZATION, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == 0);
	CHECK(storvsp_ctrl_ready_version(&ctrl) == VMSTOR_PROTO_VERSION_WIN10);
	CHECK(storvsp_build_notification(&ctrl, VSTOR_OPERATION_ENUMERATE_BUS,
					 buf) == 64);
	CHECK(((struct vstor_packet *)buf)->operation ==
	      VSTOR_OPERATION_ENUMERATE_BUS);

	/* A request without any completion flag gets no answer. */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_QUERY_PROPERTIES;
	build_inband(&p, &vp, 64, 9);
	p.desc.flags = 0;
	memcpy(p.raw, &p.desc, 16);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_NONE);

	/* 6.0 and 5.1 are accepted too. */
	CHECK(negotiate(VMSTOR_PROTO_VERSION_WIN8_1));
	CHECK(negotiate(VMSTOR_PROTO_VERSION_WIN8));
	CHECK(negotiate(VMSTOR_PROTO_VERSION_WIN10));
}

static void test_subchannels_and_resets(void)
{
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p;

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	vp.sub_channel_count = 2;
	build_inband(&p, &vp, 64, 11);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == 0 && r.offer_subchannels == 2);
	vp.sub_channel_count = 5;
	build_inband(&p, &vp, 64, 11);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_PARAMETER);
	CHECK(r.offer_subchannels == 0);
	vp.sub_channel_count = 0;
	build_inband(&p, &vp, 64, 11);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_PARAMETER);
	/* Set-up operations belong to the primary channel. */
	vp.sub_channel_count = 1;
	build_inband(&p, &vp, 64, 11);
	CHECK(send_pkt(&p, false, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_REQUEST);
	vp.operation = VSTOR_OPERATION_BEGIN_INITIALIZATION;
	build_inband(&p, &vp, 64, 11);
	CHECK(send_pkt(&p, false, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_REQUEST);
	CHECK(storvsp_ctrl_ready_version(&ctrl) != 0);

	/* Resets are allowed anywhere and ask for a drain. */
	vp.operation = VSTOR_OPERATION_RESET_BUS;
	build_inband(&p, &vp, 64, 12);
	CHECK(send_pkt(&p, false, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == 0 && r.reset);
	vp.operation = VSTOR_OPERATION_RESET_LUN;
	build_inband(&p, &vp, 64, 12);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY && r.reset);
	vp.operation = VSTOR_OPERATION_RESET_ADAPTER;
	build_inband(&p, &vp, 64, 12);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY && r.reset);

	/* Unknown and host-only operations. */
	vp.operation = 99;
	build_inband(&p, &vp, 64, 13);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_REQUEST);
	vp.operation = VSTOR_OPERATION_FCHBA_DATA;
	build_inband(&p, &vp, 64, 13);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_REQUEST);
}

static void test_srb_data_roundtrip(void)
{
	const uint64_t wpfns[] = { 5, 3, 9, 10 }, rpfns[] = { 20, 21, 30, 2 };
	const uint32_t off = 100, len = 8 * 512;
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p;
	uint8_t expect[8 * 512], got[8 * 512];

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	/* The data starts 100 bytes into PFN 5 and spans 2 more pages. */
	for (uint32_t i = 0; i < len; i++)
		expect[i] = (uint8_t)(i * 13 + 1);
	memcpy(page(5) + off, expect, 4096 - off);
	memcpy(page(3), expect + 4096 - off, off);
	rw10(&vp, true, 40, 8);
	build_gpa(&p, &vp, 1, off, len, wpfns, 3, 21);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(r.trans_id == 21 && r.len == 64);
	CHECK(rsp(&r)->operation == VSTOR_OPERATION_COMPLETE_IO);
	CHECK(rsp(&r)->status == 0);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
	CHECK(rsp(&r)->vm_srb.scsi_status == 0);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == len);

	/* Read back into other pages, with PFNs 20 and 21 adjacent. */
	rw10(&vp, false, 40, 8);
	build_gpa(&p, &vp, 1, 0, len, rpfns, 2, 22);
	CHECK(send_pkt(&p, false, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == len);
	memcpy(got, page(20), 4096);
	memcpy(got + 4096, page(21), len - 4096);
	CHECK(memcmp(got, expect, len) == 0);

	/* A buffer bigger than the command moves: data_transfer_length
	 * says how much did. */
	srb_init(&vp, 0, SCSI_OP_INQUIRY, 255, VMSCSI_DATA_IN);
	vp.vm_srb.cdb[4] = 255;
	build_gpa(&p, &vp, 1, 0, 255, rpfns, 1, 23);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == 36);
	CHECK(memcmp(page(20) + 8, "Msft", 4) == 0);

	/* No-data commands travel in-band. */
	srb_init(&vp, 0, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 24);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
}

static void test_srb_errors_and_sense(void)
{
	const uint64_t pfns[] = { 4 };
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p;
	char err[128];
	struct storvsp_lun *l;

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	/* READ past the end: CHECK CONDITION with autosense. */
	rw10(&vp, false, DISK_BYTES / 512, 1);
	build_gpa(&p, &vp, 1, 0, 512, pfns, 1, 31);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status ==
	      (SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID));
	CHECK(rsp(&r)->vm_srb.scsi_status == SCSI_STATUS_CHECK_CONDITION);
	CHECK(rsp(&r)->vm_srb.sense_info_length == SCSI_SENSE_FIXED_LEN);
	CHECK(rsp(&r)->vm_srb.sense_data[0] == 0x70);
	CHECK(rsp(&r)->vm_srb.sense_data[2] == SCSI_SK_ILLEGAL_REQUEST);
	CHECK(rsp(&r)->vm_srb.sense_data[12] == 0x21);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == 0);

	/* A guest that gives no sense buffer gets no autosense. */
	vp.vm_srb.sense_info_length = 0;
	build_gpa(&p, &vp, 1, 0, 512, pfns, 1, 32);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_ERROR);
	CHECK(rsp(&r)->vm_srb.sense_info_length == 0);

	/* Capacity change: the next command reports 06/2a/09. */
	l = storvsp_ctrl_get(&ctrl, 0);
	REQUIRE(l);
	CHECK(scsi_disk_resize(l->disk, DISK_BYTES * 2, err, sizeof(err)) == 0);
	storvsp_ctrl_put(&ctrl, l);
	srb_init(&vp, 0, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 33);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status ==
	      (SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID));
	CHECK(rsp(&r)->vm_srb.sense_data[2] == VMSTOR_SENSE_KEY_UNIT_ATTENTION);
	CHECK(rsp(&r)->vm_srb.sense_data[12] == VMSTOR_ASC_PARAMETERS_CHANGED);
	CHECK(rsp(&r)->vm_srb.sense_data[13] ==
	      VMSTOR_ASCQ_CAPACITY_DATA_CHANGED);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);

	/* Before END_INITIALIZATION no SRB runs. */
	CHECK(simple_op(VSTOR_OPERATION_BEGIN_INITIALIZATION, 64, &r) ==
	      STORVSP_ACT_REPLY);
	build_inband(&p, &vp, 64, 34);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_STATE);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_INVALID_REQUEST);
}

static void test_addressing(void)
{
	const uint64_t pfns[] = { 12 };
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p;
	uint8_t *d = page(12);

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	/* Absent LUN: INVALID_LUN... */
	srb_init(&vp, 5, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 41);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_INVALID_LUN);
	srb_init(&vp, 200, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 41);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_INVALID_LUN);

	/* ...but its INQUIRY says "no LU here" so scanning goes on. */
	srb_init(&vp, 1, SCSI_OP_INQUIRY, 96, VMSCSI_DATA_IN);
	vp.vm_srb.cdb[4] = 96;
	memset(d, 0xee, 96);
	build_gpa(&p, &vp, 1, 0, 96, pfns, 1, 42);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
	CHECK(d[0] == 0x7f);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == 36);

	/* Other paths and targets do not exist at all. */
	vp.vm_srb.path_id = 1;
	build_gpa(&p, &vp, 1, 0, 96, pfns, 1, 43);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_INVALID_LUN);
	vp.vm_srb.path_id = 0;
	vp.vm_srb.target_id = 1;
	vp.vm_srb.lun = 0;
	build_gpa(&p, &vp, 1, 0, 96, pfns, 1, 44);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_INVALID_LUN);

	/* REPORT LUNS lists 0 and 2, even when asked through LUN 1. */
	srb_init(&vp, 1, SCSI_OP_REPORT_LUNS, 64, VMSCSI_DATA_IN);
	vp.vm_srb.cdb_length = 12;
	vp.vm_srb.cdb[9] = 64;
	build_gpa(&p, &vp, 1, 0, 64, pfns, 1, 45);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == 24);
	CHECK(d[3] == 16 && d[9] == 0 && d[17] == 2);

	/* Hot remove: the LUN disappears from the next command on. */
	CHECK(storvsp_ctrl_detach(&ctrl, 2) == 0);
	CHECK(storvsp_ctrl_detach(&ctrl, 2) == -ENOENT);
	build_gpa(&p, &vp, 1, 0, 64, pfns, 1, 46);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(d[3] == 8);
	CHECK(storvsp_ctrl_free_lun(&ctrl) == 1);
}

static void test_stall_and_abort(void)
{
	const uint64_t pfns[] = { 15 };
	struct storvsp_reply r, hold;
	struct vstor_packet vp;
	struct storvsp_lun *l;
	struct pkt p;
	const uint64_t now = 1000000000ull;

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	l = storvsp_ctrl_get(&ctrl, 0);
	REQUIRE(l);

	/* Held until released. */
	scsi_disk_fault_stall(l->disk, 0);
	rw10(&vp, false, 0, 1);
	build_gpa(&p, &vp, 1, 0, 512, pfns, 1, 51);
	CHECK(send_pkt(&p, true, 0, now, &hold) == STORVSP_ACT_HOLD);
	CHECK(hold.hold_until_ns == UINT64_MAX && hold.hold_lun == 0);
	CHECK(!storvsp_hold_expired(&ctrl, &hold, now + 1000000000000ull));
	scsi_disk_fault_release(l->disk);
	CHECK(storvsp_hold_expired(&ctrl, &hold, now));
	CHECK(send_pkt(&p, true, STORVSP_NO_STALL, now, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);

	/* A bus reset ends an untimed stall: the disk answers again. */
	scsi_disk_fault_stall(l->disk, 0);
	CHECK(send_pkt(&p, true, 0, now, &hold) == STORVSP_ACT_HOLD);
	{
		struct vstor_packet reset = { .operation = VSTOR_OPERATION_RESET_BUS };
		struct pkt rp;

		build_inband(&rp, &reset, 64, 52);
		CHECK(send_pkt(&rp, true, 0, now, &r) == STORVSP_ACT_REPLY &&
		      r.reset);
	}
	CHECK(storvsp_hold_expired(&ctrl, &hold, now));
	CHECK(send_pkt(&p, true, 0, now, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);

	/* Held for 10 ms. */
	scsi_disk_fault_stall(l->disk, 10);
	CHECK(send_pkt(&p, true, 0, now, &hold) == STORVSP_ACT_HOLD);
	CHECK(hold.hold_until_ns == now + 10000000ull);
	CHECK(!storvsp_hold_expired(&ctrl, &hold, now + 9000000ull));
	CHECK(storvsp_hold_expired(&ctrl, &hold, now + 10000000ull));

	/* A reset completes a held command as aborted. */
	CHECK(storvsp_abort_packet(&ctrl, &p.desc, p.raw + 16, p.len - 16,
				   &r) == STORVSP_ACT_REPLY);
	CHECK(r.trans_id == 51);
	CHECK(srb_status_code(rsp(&r)->vm_srb.srb_status) ==
	      SRB_STATUS_ABORTED);
	CHECK(rsp(&r)->vm_srb.srb_status & SRB_STATUS_AUTOSENSE_VALID);
	CHECK(rsp(&r)->vm_srb.sense_data[2] == SCSI_SK_ABORTED_COMMAND);
	CHECK(rsp(&r)->vm_srb.data_transfer_length == 0);

	/* A removed LUN lets its held commands go (to fail). */
	scsi_disk_fault_stall(l->disk, 0);
	CHECK(send_pkt(&p, true, 0, now, &hold) == STORVSP_ACT_HOLD);
	scsi_disk_fault_clear(l->disk);
	storvsp_ctrl_put(&ctrl, l);
	CHECK(storvsp_hold_expired(&ctrl, &hold, now));
}

/* Each case: a packet the engine must refuse with an SRB error. */
static void expect_invalid(struct pkt *p, const char *what)
{
	struct storvsp_reply r;
	enum storvsp_action a = send_pkt(p, true, 0, 0, &r);

	CHECKF(a == STORVSP_ACT_REPLY, "%s: action %d", what, a);
	if (a == STORVSP_ACT_REPLY)
		CHECKF(rsp(&r)->vm_srb.srb_status ==
			       SRB_STATUS_INVALID_REQUEST ||
		       rsp(&r)->status != 0,
		       "%s: srb_status 0x%x status 0x%x", what,
		       rsp(&r)->vm_srb.srb_status, rsp(&r)->status);
}

static void test_malicious_packets(void)
{
	uint64_t pfns[STORVSP_MAX_DATA_PAGES + 1];
	struct storvsp_reply r;
	struct vstor_packet vp;
	uint64_t rejected;
	struct pkt p;

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	for (unsigned int i = 0; i <= STORVSP_MAX_DATA_PAGES; i++)
		pfns[i] = i % RAM_PAGES;

	rw10(&vp, false, 0, 8);
	build_gpa(&p, &vp, 2, 0, 4096, pfns, 1, 1);
	expect_invalid(&p, "two ranges");
	build_gpa(&p, &vp, 1, 4096, 4096, pfns, 2, 1);
	expect_invalid(&p, "byte_offset a page");
	build_gpa(&p, &vp, 1, 0, 4096, pfns, 0, 1);
	expect_invalid(&p, "no PFNs");
	build_gpa(&p, &vp, 1, 1, 4096, pfns, 1, 1);
	expect_invalid(&p, "range needs 2 PFNs, has 1");
	build_gpa(&p, &vp, 1, 0, 1024, pfns, 1, 1);
	expect_invalid(&p, "data_transfer_length > byte_count");
	pfns[0] = RAM_PAGES;
	build_gpa(&p, &vp, 1, 0, 4096, pfns, 1, 1);
	expect_invalid(&p, "PFN past RAM");
	pfns[0] = 1ull << 60;
	build_gpa(&p, &vp, 1, 0, 4096, pfns, 1, 1);
	expect_invalid(&p, "PFN overflowing a GPA");
	pfns[0] = UINT64_MAX;
	build_gpa(&p, &vp, 1, 0, 4096, pfns, 1, 1);
	expect_invalid(&p, "PFN all ones");
	pfns[0] = 0;
	/* A later PFN of the range that is not RAM, beyond the data. */
	pfns[1] = RAM_PAGES + 5;
	build_gpa(&p, &vp, 1, 0, 8192, pfns, 2, 1);
	expect_invalid(&p, "unused PFN not RAM");
	pfns[1] = 1;

	/* Over the advertised maximum transfer. */
	srb_init(&vp, 0, SCSI_OP_READ_16, STORVSP_MAX_TRANSFER_BYTES + 512,
		 VMSCSI_DATA_IN);
	build_gpa(&p, &vp, 1, 0, STORVSP_MAX_TRANSFER_BYTES + 512, pfns,
		  STORVSP_MAX_DATA_PAGES, 1);
	expect_invalid(&p, "transfer over 2 MiB");

	/* Data with no buffer; bad CDB lengths and directions. */
	rw10(&vp, false, 0, 1);
	build_inband(&p, &vp, 64, 1);
	expect_invalid(&p, "in-band SRB with data");
	srb_init(&vp, 0, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	vp.vm_srb.cdb_length = 0;
	build_inband(&p, &vp, 64, 1);
	expect_invalid(&p, "cdb_length 0");
	vp.vm_srb.cdb_length = 17;
	build_inband(&p, &vp, 64, 1);
	expect_invalid(&p, "cdb_length 17");
	vp.vm_srb.cdb_length = 6;
	vp.vm_srb.data_in = 3;
	build_inband(&p, &vp, 64, 1);
	expect_invalid(&p, "direction 3");
	vp.vm_srb.data_in = VMSCSI_DATA_UNKNOWN;
	vp.vm_srb.data_transfer_length = 512;
	build_gpa(&p, &vp, 1, 0, 512, pfns, 1, 1);
	expect_invalid(&p, "data with unknown direction");

	/* GPA-direct carrying a non-SRB operation. */
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_QUERY_PROPERTIES;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	build_gpa(&p, &vp, 1, 0, 512, pfns, 1, 1);
	expect_invalid(&p, "GPA-direct properties");

	/* GPA-direct header shorter than range_count. */
	rw10(&vp, false, 0, 1);
	build_inband(&p, &vp, 64, 1);
	p.desc.type = VM_PKT_DATA_USING_GPA_DIRECT;
	memcpy(p.raw, &p.desc, 16);
	expect_invalid(&p, "GPA-direct with no header");

	/* Descriptors that cannot even be answered are dropped. */
	rejected = ctrl.rejected;
	build_inband(&p, &vp, 64, 1);
	p.desc.offset8 = p.desc.len8 + 1;
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_NONE);
	build_inband(&p, &vp, 64, 1);
	p.desc.offset8 = 1;
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_NONE);
	build_inband(&p, &vp, 8, 1);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_NONE);
	build_inband(&p, &vp, 64, 1);
	CHECK(storvsp_handle_packet(&ctrl, true, &p.desc, p.raw + 16, 10, 0, 0,
				    &io, &r) == STORVSP_ACT_NONE);
	CHECK(storvsp_handle_packet(&ctrl, true, &p.desc, NULL, 0, 0, 0,
				    &io, &r) == STORVSP_ACT_NONE);
	p.desc.type = VM_PKT_DATA_USING_XFER_PAGES;
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_NONE);
	CHECK(ctrl.rejected >= rejected + 6);

	/* Short packet after negotiation: answered with an error. */
	build_inband(&p, &vp, 40, 1);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_PARAMETER &&
	      r.len == 40);

	/* The controller still works. */
	srb_init(&vp, 0, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 1);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->vm_srb.srb_status == SRB_STATUS_SUCCESS);
}

/* xorshift64*: deterministic mutations. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_mutated_packets(void)
{
	const uint64_t pfns[] = { 40, 41, 42 };
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p, q;

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	for (int iter = 0; iter < 20000; iter++) {
		uint32_t flips = 1 + rng() % 6;

		if (iter % 2)
			rw10(&vp, rng() % 2, (uint32_t)(rng() % 64), 8);
		else
			srb_init(&vp, (uint8_t)(rng() % 4),
				 (uint8_t)rng(), (uint32_t)(rng() % 8192),
				 (uint8_t)(rng() % 3));
		build_gpa(&p, &vp, 1, (uint32_t)(rng() % 512), 8192, pfns, 3,
			  (uint64_t)iter);
		q = p;
		for (uint32_t f = 0; f < flips; f++)
			q.raw[rng() % q.len] ^= (uint8_t)(1u << (rng() % 8));
		memcpy(&q.desc, q.raw, 16);
		/* The caller's ring layer validated len8 against the bytes. */
		if ((uint32_t)q.desc.len8 * 8 > sizeof(q.raw))
			continue;
		storvsp_handle_packet(&ctrl, rng() % 2, &q.desc, q.raw + 16,
				      sizeof(q.raw) - 16, 0, 0, &io, &r);
		/* Re-negotiation may have been hit: get back to READY. */
		if (!storvsp_ctrl_ready_version(&ctrl))
			REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	}
	/* Unit attentions and resizes aside, the disk still reads. */
	rw10(&vp, false, 0, 1);
	build_gpa(&p, &vp, 1, 0, 512, pfns, 1, 1);
	CHECK(send_pkt(&p, true, 0, 0, &r) == STORVSP_ACT_REPLY);
	CHECK(srb_status_code(rsp(&r)->vm_srb.srb_status) ==
	      SRB_STATUS_SUCCESS ||
	      rsp(&r)->vm_srb.sense_data[2] == SCSI_SK_UNIT_ATTENTION);
}

static void test_disk_option(void)
{
	struct storvsp_disk_spec s;
	char err[256];
	uint64_t b;

	CHECK(storvsp_parse_disk_option("a.img", &s, err, sizeof(err)) == 0);
	CHECK(strcmp(s.path, "a.img") == 0 && s.sector_size == 512 && !s.ro &&
	      s.controller == 0 && s.lun == -1);
	CHECK(storvsp_parse_disk_option("/x/b.img,sector=4096,ro,ctl=2,lun=7",
					&s, err, sizeof(err)) == 0);
	CHECK(strcmp(s.path, "/x/b.img") == 0 && s.sector_size == 4096 &&
	      s.ro && s.controller == 2 && s.lun == 7);
	CHECK(!s.kind_given && s.kind == STORVSP_KIND_SCSI);
	CHECK(storvsp_parse_disk_option("c.img,ide", &s, err, sizeof(err)) == 0);
	CHECK(s.kind_given && s.kind == STORVSP_KIND_IDE);
	CHECK(storvsp_parse_disk_option("c.img,ctl=3,fc", &s, err,
					sizeof(err)) == 0);
	CHECK(s.kind_given && s.kind == STORVSP_KIND_FC && s.controller == 3);
	CHECK(storvsp_parse_disk_option("c.img,fc,ide", &s, err,
					sizeof(err)) == -EINVAL);
	CHECK(storvsp_parse_disk_option("", &s, err, sizeof(err)) == -EINVAL);
	CHECK(storvsp_parse_disk_option(",ro", &s, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(storvsp_parse_disk_option("a,sector=1024", &s, err,
					sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "sector") != NULL);
	CHECK(storvsp_parse_disk_option("a,lun=64", &s, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(storvsp_parse_disk_option("a,ctl=-1", &s, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(storvsp_parse_disk_option("a,bogus", &s, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(storvsp_parse_disk_option("a,", &s, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(storvsp_parse_disk_option("a,lun=", &s, err, sizeof(err)) ==
	      -EINVAL);

	CHECK(storvsp_parse_size("4096", &b) == 0 && b == 4096);
	CHECK(storvsp_parse_size("64M", &b) == 0 && b == 64ull << 20);
	CHECK(storvsp_parse_size("2g", &b) == 0 && b == 2ull << 30);
	CHECK(storvsp_parse_size("1T", &b) == 0 && b == 1ull << 40);
	CHECK(storvsp_parse_size("010", &b) == 0 && b == 10);
	CHECK(storvsp_parse_size("", &b) == -EINVAL);
	CHECK(storvsp_parse_size("M", &b) == -EINVAL);
	CHECK(storvsp_parse_size("12X", &b) == -EINVAL);
	CHECK(storvsp_parse_size("-5", &b) == -EINVAL);
	CHECK(storvsp_parse_size("99999999999999999999", &b) == -EINVAL);
	CHECK(storvsp_parse_size("17179869184G", &b) == -EINVAL);
}

/* ------------------------------------------------------------------ */
/* The whole VSP over the real VMBus server and channels               */

struct vsp_env {
	struct fake_host *fh;
	struct loop *loop;
	struct storvsp *sv;
	char img[3][64];
	struct vmbus_channel_offer_channel offers[8];
	int noffers;
};

static struct gchan g_primary, g_sub;
static uint32_t g_primary_conn, g_sub_conn;

static bool make_img(char *path, uint64_t bytes)
{
	int fd;

	strcpy(path, "/tmp/test_storvsp_vsp.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return false;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* A whole packet (descriptor included, len a multiple of 8) into a ring. */
static int ring_put(struct gring *r, const void *pkt, uint32_t len)
{
	uint32_t w = GGET(r, write_index), rd = GGET(r, read_index), off;
	uint64_t trailer = (uint64_t)w << 32;

	if (vmbus_ring_bytes_to_write(w, rd, r->size) <= len + 8)
		return -EAGAIN;
	off = gring_copy_in(r, w, pkt, len);
	off = gring_copy_in(r, off, &trailer, 8);
	GSET(r, write_index, off);
	return 0;
}

static bool vsp_send(struct vsp_env *e, struct gchan *gc, uint32_t conn,
		     struct pkt *p)
{
	if (ring_put(&gc->send, p->raw, p->len))
		return false;
	vmbus_server_signal(e->fh->srv, conn);
	return true;
}

/*
 * Wait up to ms for a packet from the host on gc, running the event loop
 * meanwhile (sub-channel offers are made there).
 */
static bool vsp_recv(struct vsp_env *e, struct gchan *gc, uint32_t conn,
		     struct vmpacket_descriptor *d, struct vstor_packet *vp,
		     uint32_t *len, int ms)
{
	uint8_t buf[256];

	for (int i = 0; i < ms; i++) {
		bool signal = false;
		int r;

		r = guest_recv(&gc->recv, d, buf, sizeof(buf), len, &signal);
		if (signal)
			vmbus_server_signal(e->fh->srv, conn);
		if (r == 0) {
			memset(vp, 0, sizeof(*vp));
			memcpy(vp, buf, *len < sizeof(*vp) ? *len : sizeof(*vp));
			return true;
		}
		loop_run_once(e->loop, 1);
	}
	return false;
}

static bool vsp_call(struct vsp_env *e, struct gchan *gc, uint32_t conn,
		     struct pkt *p, struct vstor_packet *out)
{
	struct vmpacket_descriptor d;
	uint32_t len;

	if (!vsp_send(e, gc, conn, p) ||
	    !vsp_recv(e, gc, conn, &d, out, &len, 3000))
		return false;
	return d.type == VM_PKT_COMP && d.trans_id == p->desc.trans_id &&
	       len >= 64;
}

static bool vsp_control(struct vsp_env *e, uint32_t op, uint16_t arg,
			struct vstor_packet *out)
{
	struct vstor_packet vp;
	struct pkt p;

	memset(&vp, 0, sizeof(vp));
	vp.operation = op;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	if (op == VSTOR_OPERATION_QUERY_PROTOCOL_VERSION)
		vp.version.major_minor = arg;
	else
		vp.sub_channel_count = arg;
	build_inband(&p, &vp, 64, 1000 + op);
	return vsp_call(e, &g_primary, g_primary_conn, &p, out) &&
	       out->status == 0;
}

static int vsp_ctl(struct vsp_env *e, char *out, size_t outlen, int argc,
		   ...)
{
	char *argv[8];
	va_list ap;
	FILE *f;
	int r;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 8; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	memset(out, 0, outlen);
	f = fmemopen(out, outlen - 1, "w");
	if (!f)
		return -99;
	r = storvsp_ctl_disk(e->sv, argc, argv, f);
	fclose(f);
	return r;
}

static uint32_t offer_relid(struct vsp_env *e, uint32_t data1, uint16_t sub,
			    uint32_t *conn)
{
	for (int i = 0; i < e->noffers && i < 8; i++) {
		const struct vmbus_channel_offer_channel *o = &e->offers[i];
		uint32_t d1;

		memcpy(&d1, o->offer.if_instance.b, 4);
		if (d1 == data1 && o->offer.sub_channel_index == sub) {
			*conn = o->connection_id;
			return o->child_relid;
		}
	}
	return 0;
}

static uint8_t srb_status_of(const struct vstor_packet *vp)
{
	return vp->vm_srb.srb_status;
}

static void test_vsp_end_to_end(void)
{
	struct storvsp_disk_spec specs[3];
	struct storvsp_config cfg;
	struct vstor_packet vp, out;
	struct vmpacket_descriptor d;
	struct vmbus_channel_offer_channel *o;
	struct vsp_env e;
	struct pkt p;
	char err[256], text[2048];
	uint64_t data_pfn, scsi_class_ok = 0;
	uint32_t len, primary, sub;

	memset(&e, 0, sizeof(e));
	e.fh = fake_host_new();
	e.loop = loop_new();
	REQUIRE(e.fh && e.loop);
	REQUIRE(make_img(e.img[0], 4u << 20) && make_img(e.img[1], 4u << 20) &&
		make_img(e.img[2], 1u << 20));
	CHECK(storvsp_parse_disk_option(e.img[0], &specs[0], err,
					sizeof(err)) == 0);
	snprintf(text, sizeof(text), "%s,sector=4096,lun=3", e.img[1]);
	CHECK(storvsp_parse_disk_option(text, &specs[1], err,
					sizeof(err)) == 0);
	snprintf(text, sizeof(text), "%s,ro,ctl=1", e.img[2]);
	CHECK(storvsp_parse_disk_option(text, &specs[2], err,
					sizeof(err)) == 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.srv = e.fh->srv;
	cfg.loop = e.loop;
	cfg.nr_vps = FAKE_NR_VPS;
	REQUIRE(storvsp_setup(&cfg, specs, 3, &e.sv, err, sizeof(err)) == 0);

	/* Two controllers, offered as SCSI with Hyper-V's instance GUIDs. */
	REQUIRE(guest_connect(e.fh) == 0);
	e.noffers = guest_take_offers(e.fh, e.offers, 8);
	CHECK(e.noffers == 2);
	for (int i = 0; i < e.noffers && i < 8; i++) {
		const guid_t scsi = VMBUS_CLASS_SCSI;

		if (guid_equal(&e.offers[i].offer.if_type, &scsi))
			scsi_class_ok++;
	}
	CHECK(scsi_class_ok == 2);
	primary = offer_relid(&e, 0xf8b3781a, 0, &g_primary_conn);
	CHECK(offer_relid(&e, 0xf8b3781b, 0, &sub) != 0);
	REQUIRE(primary);
	REQUIRE(guest_open(e.fh, &g_primary, primary, 0x100, 8, 8, 0) == 0);

	/* Negotiation as Linux does it. */
	CHECK(vsp_control(&e, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0, &out));
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	vp.version.major_minor = VMSTOR_PROTO_VERSION(9, 9);
	build_inband(&p, &vp, 64, 5);
	CHECK(vsp_call(&e, &g_primary, g_primary_conn, &p, &out));
	CHECK(out.status == VSTOR_STATUS_REVISION_MISMATCH);
	CHECK(vsp_control(&e, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION,
			  VMSTOR_PROTO_VERSION_WIN10, &out));
	CHECK(vsp_control(&e, VSTOR_OPERATION_QUERY_PROPERTIES, 0, &out));
	CHECK(out.properties.max_channel_count == FAKE_NR_VPS);
	CHECK(out.properties.max_transfer_bytes == 2u << 20);
	CHECK(vsp_control(&e, VSTOR_OPERATION_END_INITIALIZATION, 0, &out));

	/* Sub-channels: offered from the loop thread after the answer. */
	fake_drain_msgs(e.fh);
	CHECK(vsp_control(&e, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 2, &out));
	for (int i = 0; i < 200 && fake_pending_msgs(e.fh) < 2; i++)
		loop_run_once(e.loop, 5);
	o = fake_expect(e.fh, CHANNELMSG_OFFERCHANNEL);
	CHECK(o && o->offer.sub_channel_index == 1);
	REQUIRE(o);
	sub = o->child_relid;
	g_sub_conn = o->connection_id;
	o = fake_expect(e.fh, CHANNELMSG_OFFERCHANNEL);
	CHECK(o && o->offer.sub_channel_index == 2);
	REQUIRE(guest_open(e.fh, &g_sub, sub, 0x101, 8, 8, 1) == 0);

	/* Write on the sub-channel, read back on the primary. */
	data_pfn = fake_alloc_pages(e.fh, 2);
	REQUIRE(data_pfn);
	for (int i = 0; i < 4096; i++)
		((uint8_t *)fake_page(e.fh, data_pfn))[i] = (uint8_t)(i * 3);
	rw10(&vp, true, 16, 8);
	{
		uint64_t pf[1] = { data_pfn };

		build_gpa(&p, &vp, 1, 0, 4096, pf, 1, 77);
		CHECK(vsp_call(&e, &g_sub, g_sub_conn, &p, &out));
		CHECK(srb_status_of(&out) == SRB_STATUS_SUCCESS);
		CHECK(out.vm_srb.data_transfer_length == 4096);
		pf[0] = data_pfn + 1;
		rw10(&vp, false, 16, 8);
		build_gpa(&p, &vp, 1, 0, 4096, pf, 1, 78);
		CHECK(vsp_call(&e, &g_primary, g_primary_conn, &p, &out));
		CHECK(srb_status_of(&out) == SRB_STATUS_SUCCESS);
		CHECK(memcmp(fake_page(e.fh, data_pfn),
			     fake_page(e.fh, data_pfn + 1), 4096) == 0);
	}

	/* Hot add: ENUMERATE_BUS arrives with transaction ID 0. */
	snprintf(text, sizeof(text), "%s,lun=5", e.img[2]);
	CHECK(vsp_ctl(&e, err, sizeof(err), 3, "disk", "add", text) != 0);
	CHECK(strstr(err, "in use") != NULL);	/* ctl 1 holds it (shared) */
	{
		char img4[64];

		REQUIRE(make_img(img4, 1u << 20));
		snprintf(text, sizeof(text), "%s,lun=5", img4);
		CHECK(vsp_ctl(&e, err, sizeof(err), 3, "disk", "add", text) == 0);
		CHECK(strcmp(err, "3\n") == 0);
		unlink(img4);
	}
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(d.type == VM_PKT_DATA_INBAND && d.trans_id == 0 &&
	      out.operation == VSTOR_OPERATION_ENUMERATE_BUS && len == 64);
	CHECK(vsp_ctl(&e, text, sizeof(text), 2, "disk", "list") == 0);
	CHECK(strstr(text, " 0 5 512 rw ") != NULL);
	CHECK(strstr(text, " 0 3 4096 rw ") != NULL);
	CHECK(strstr(text, " 1 0 512 ro ") != NULL);

	/* Resize: notification, then the unit attention. */
	CHECK(vsp_ctl(&e, err, sizeof(err), 4, "disk", "resize", "0", "8M") == 0);
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(out.operation == VSTOR_OPERATION_ENUMERATE_BUS);
	srb_init(&vp, 0, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 80);
	CHECK(vsp_call(&e, &g_primary, g_primary_conn, &p, &out));
	CHECK(out.vm_srb.srb_status ==
	      (SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID));
	CHECK(out.vm_srb.sense_data[12] == 0x2a &&
	      out.vm_srb.sense_data[13] == 0x09);
	CHECK(vsp_ctl(&e, err, sizeof(err), 4, "disk", "resize", "0", "7") != 0);

	/* Stall until release: no answer; a reset aborts it. */
	CHECK(vsp_ctl(&e, err, sizeof(err), 5, "disk", "fault", "0", "stall",
		      "0") == 0);
	build_inband(&p, &vp, 64, 81);
	CHECK(vsp_send(&e, &g_primary, g_primary_conn, &p));
	CHECK(!vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 100));
	memset(&vp, 0, sizeof(vp));
	vp.operation = VSTOR_OPERATION_RESET_BUS;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	build_inband(&p, &vp, 64, 82);
	CHECK(vsp_send(&e, &g_primary, g_primary_conn, &p));
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(d.trans_id == 81 &&
	      srb_status_code(out.vm_srb.srb_status) == SRB_STATUS_ABORTED);
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(d.trans_id == 82 && out.status == 0);

	/* Timed stall: answered after the delay. */
	CHECK(vsp_ctl(&e, err, sizeof(err), 5, "disk", "fault", "0", "stall",
		      "300") == 0);
	srb_init(&vp, 0, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 83);
	CHECK(vsp_send(&e, &g_primary, g_primary_conn, &p));
	CHECK(!vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 20));
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(d.trans_id == 83 && out.vm_srb.srb_status == SRB_STATUS_SUCCESS);

	/* Hung controller: nothing completes until cleared. */
	CHECK(vsp_ctl(&e, err, sizeof(err), 4, "disk", "fault", "0", "hang") == 0);
	build_inband(&p, &vp, 64, 84);
	CHECK(vsp_send(&e, &g_primary, g_primary_conn, &p));
	CHECK(!vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 100));
	CHECK(vsp_ctl(&e, err, sizeof(err), 4, "disk", "fault", "0", "clear") == 0);
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(d.trans_id == 84 && out.vm_srb.srb_status == SRB_STATUS_SUCCESS);

	/* Medium error through the whole stack. */
	CHECK(vsp_ctl(&e, err, sizeof(err), 6, "disk", "fault", "0", "medium",
		      "16", "1") == 0);
	{
		uint64_t pf[1] = { data_pfn };

		rw10(&vp, false, 10, 8);
		build_gpa(&p, &vp, 1, 0, 4096, pf, 1, 85);
		CHECK(vsp_call(&e, &g_primary, g_primary_conn, &p, &out));
		CHECK(out.vm_srb.sense_data[2] == SCSI_SK_MEDIUM_ERROR);
	}
	CHECK(vsp_ctl(&e, err, sizeof(err), 4, "disk", "fault", "0", "clear") == 0);

	/* Hot remove: notification, then INVALID_LUN. */
	CHECK(vsp_ctl(&e, err, sizeof(err), 3, "disk", "remove", "1") == 0);
	CHECK(vsp_recv(&e, &g_primary, g_primary_conn, &d, &out, &len, 3000));
	CHECK(out.operation == VSTOR_OPERATION_ENUMERATE_BUS);
	srb_init(&vp, 3, SCSI_OP_TEST_UNIT_READY, 0, VMSCSI_DATA_UNKNOWN);
	build_inband(&p, &vp, 64, 86);
	CHECK(vsp_call(&e, &g_primary, g_primary_conn, &p, &out));
	CHECK(out.vm_srb.srb_status == SRB_STATUS_INVALID_LUN);
	CHECK(vsp_ctl(&e, err, sizeof(err), 3, "disk", "remove", "1") != 0);
	CHECK(vsp_ctl(&e, err, sizeof(err), 3, "disk", "bogus", "0") != 0);
	CHECK(vsp_ctl(&e, err, sizeof(err), 5, "disk", "fault", "0", "stall",
		      "x") != 0);

	/* Close, reopen the primary: negotiation starts over. */
	guest_close(e.fh, sub);
	guest_close(e.fh, primary);
	CHECK(fake_host_free(e.fh) == 0);
	storvsp_destroy(e.sv);
	loop_free(e.loop);
	for (int i = 0; i < 3; i++)
		unlink(e.img[i]);
}

/* TEST UNIT READY to path 0, target, LUN 0: the SRB status code. */
static uint8_t tur_status(uint8_t target)
{
	struct storvsp_reply r;
	struct vstor_packet vp;
	struct pkt p;

	srb_init(&vp, 0, 0x00, 0, VMSCSI_DATA_UNKNOWN);
	vp.vm_srb.target_id = target;
	build_inband(&p, &vp, sizeof(vp), 60);
	if (send_pkt(&p, true, 0, 0, &r) != STORVSP_ACT_REPLY)
		return 0xff;
	return srb_status_code(rsp(&r)->vm_srb.srb_status);
}

static void test_controller_kinds(void)
{
	struct storvsp_reply r;
	const struct vmstorage_fc_wwn *w;

	REQUIRE(negotiate(VMSTOR_PROTO_VERSION_WIN10));
	/* FC data from a SCSI controller: refused. */
	CHECK(simple_op(VSTOR_OPERATION_FCHBA_DATA, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_REQUEST);

	/* An FC HBA names itself; no sub-channels. */
	storvsp_ctrl_set_kind(&ctrl, STORVSP_KIND_FC, 0);
	CHECK(simple_op(VSTOR_OPERATION_FCHBA_DATA, 64, &r) ==
	      STORVSP_ACT_REPLY);
	w = &rsp(&r)->wwn;
	CHECK(rsp(&r)->status == 0 && w->primary_active);
	CHECK(w->primary_port_wwn[0] == 0x50 &&
	      memcmp(w->primary_port_wwn, w->primary_node_wwn,
		     VMSTOR_WWN_SIZE) != 0);
	CHECK(simple_op(VSTOR_OPERATION_QUERY_PROPERTIES, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->properties.max_channel_count == 0 &&
	      !(rsp(&r)->properties.flags &
		STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL));
	CHECK(tur_status(0) == SRB_STATUS_SUCCESS);

	/* An IDE channel's disk answers at its target only. */
	storvsp_ctrl_set_kind(&ctrl, STORVSP_KIND_IDE, 1);
	CHECK(tur_status(1) == SRB_STATUS_SUCCESS);
	CHECK(tur_status(0) == SRB_STATUS_INVALID_LUN);
	CHECK(simple_op(VSTOR_OPERATION_FCHBA_DATA, 64, &r) ==
	      STORVSP_ACT_REPLY);
	CHECK(rsp(&r)->status == VSTOR_STATUS_INVALID_DEVICE_REQUEST);

	storvsp_ctrl_set_kind(&ctrl, STORVSP_KIND_SCSI, 0);
	ctrl.max_subchannels = 4;
	CHECK(tur_status(0) == SRB_STATUS_SUCCESS);
}

int main(void)
{
	if (!setup()) {
		printf("FAIL setup: cannot create the controller\n");
		return 1;
	}
	RUN_TEST(test_negotiation);
	RUN_TEST(test_subchannels_and_resets);
	RUN_TEST(test_srb_data_roundtrip);
	RUN_TEST(test_srb_errors_and_sense);
	RUN_TEST(test_addressing);
	RUN_TEST(test_stall_and_abort);
	RUN_TEST(test_malicious_packets);
	RUN_TEST(test_mutated_packets);
	RUN_TEST(test_disk_option);
	RUN_TEST(test_controller_kinds);
	RUN_TEST(test_vsp_end_to_end);
	teardown();
	return check_finish();
}
