// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The storage VSP protocol engine: vstor negotiation, properties,
 * sub-channel requests, resets and EXECUTE_SRB from in-band and GPA-direct
 * packets. See storvsp_proto.h.
 *
 * Everything in a packet comes from the guest. The packet is copied out of
 * the ring before we see it, so its bytes cannot change under us, but every
 * length, count, offset, PFN and address in it is checked before use, and
 * anything wrong is answered with an error completion (or dropped when it
 * is too short to answer), never trusted.
 */
#include "vsp/storvsp_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/disk.h"
#include "trace.h"

#define COMPLAIN(c, ...)						\
	do {								\
		__atomic_fetch_add(&(c)->rejected, 1, __ATOMIC_RELAXED); \
		log_ratelimited(&(c)->rl, __VA_ARGS__);			\
	} while (0)

/* What QUERY_PROPERTIES promises is what the disk accepts. */
_Static_assert(STORVSP_MAX_TRANSFER_BYTES == SCSI_DISK_MAX_TRANSFER_BYTES,
	       "storvsp and the disk must agree on the largest transfer");

/* Versions we agree to, newest first. */
static const uint16_t storvsp_versions[] = {
	VMSTOR_PROTO_VERSION_WIN10,
	VMSTOR_PROTO_VERSION_WIN8_1,
	VMSTOR_PROTO_VERSION_WIN8,
};

int storvsp_ctrl_init(struct storvsp_ctrl *c, unsigned int index,
		      uint16_t max_subchannels)
{
	memset(c, 0, sizeof(*c));
	c->index = index;
	c->max_subchannels = max_subchannels > STORVSP_MAX_SUBCHANNELS ?
			     STORVSP_MAX_SUBCHANNELS : max_subchannels;
	c->state = STORVSP_STATE_IDLE;
	return -pthread_mutex_init(&c->lock, NULL);
}

void storvsp_ctrl_set_kind(struct storvsp_ctrl *c, enum storvsp_kind kind,
			   uint16_t ide_target)
{
	c->kind = kind;
	c->ide_target = kind == STORVSP_KIND_IDE ? ide_target : 0;
	if (kind != STORVSP_KIND_SCSI)
		c->max_subchannels = 0;
	memset(&c->wwn, 0, sizeof(c->wwn));
	if (kind == STORVSP_KIND_FC) {
		/* NAA 5 names, big-endian; port and node differ in one byte. */
		static const uint8_t base[VMSTOR_WWN_SIZE] = {
			0x50, 0x01, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00
		};

		memcpy(c->wwn.primary_port_wwn, base, sizeof(base));
		memcpy(c->wwn.primary_node_wwn, base, sizeof(base));
		c->wwn.primary_port_wwn[6] = 0x01;
		c->wwn.primary_node_wwn[6] = 0x02;
		c->wwn.primary_port_wwn[7] = (uint8_t)c->index;
		c->wwn.primary_node_wwn[7] = (uint8_t)c->index;
		c->wwn.primary_active = 1;
	}
}

static void lun_free(struct storvsp_lun *l)
{
	scsi_disk_close(l->disk);
	free(l);
}

void storvsp_ctrl_fini(struct storvsp_ctrl *c)
{
	for (unsigned int i = 0; i < STORVSP_MAX_LUNS; i++) {
		if (c->luns[i])
			lun_free(c->luns[i]);
		c->luns[i] = NULL;
	}
	pthread_mutex_destroy(&c->lock);
}

int storvsp_ctrl_attach(struct storvsp_ctrl *c, unsigned int lun,
			unsigned int id, struct scsi_disk *disk)
{
	struct storvsp_lun *l;
	int ret = 0;

	if (lun >= STORVSP_MAX_LUNS || !disk)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->disk = disk;
	l->id = id;
	l->lun = lun;
	pthread_mutex_lock(&c->lock);
	if (c->luns[lun])
		ret = -EEXIST;
	else
		c->luns[lun] = l;
	pthread_mutex_unlock(&c->lock);
	if (ret)
		free(l);
	return ret;
}

int storvsp_ctrl_detach(struct storvsp_ctrl *c, unsigned int lun)
{
	struct storvsp_lun *l;
	bool free_now;

	if (lun >= STORVSP_MAX_LUNS)
		return -ENOENT;
	pthread_mutex_lock(&c->lock);
	l = c->luns[lun];
	if (!l) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	c->luns[lun] = NULL;
	l->removed = true;
	free_now = !l->refs;
	pthread_mutex_unlock(&c->lock);
	if (free_now)
		lun_free(l);
	return 0;
}

int storvsp_ctrl_free_lun(struct storvsp_ctrl *c)
{
	int lun = -ENOSPC;

	pthread_mutex_lock(&c->lock);
	for (unsigned int i = 0; i < STORVSP_MAX_LUNS; i++) {
		if (!c->luns[i]) {
			lun = (int)i;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return lun;
}

struct storvsp_lun *storvsp_ctrl_get(struct storvsp_ctrl *c, unsigned int lun)
{
	struct storvsp_lun *l = NULL;

	if (lun >= STORVSP_MAX_LUNS)
		return NULL;
	pthread_mutex_lock(&c->lock);
	l = c->luns[lun];
	if (l)
		l->refs++;
	pthread_mutex_unlock(&c->lock);
	return l;
}

void storvsp_ctrl_put(struct storvsp_ctrl *c, struct storvsp_lun *l)
{
	bool free_now;

	if (!l)
		return;
	pthread_mutex_lock(&c->lock);
	l->refs--;
	free_now = l->removed && !l->refs;
	pthread_mutex_unlock(&c->lock);
	if (free_now)
		lun_free(l);
}

uint16_t storvsp_ctrl_ready_version(struct storvsp_ctrl *c)
{
	uint16_t v;

	pthread_mutex_lock(&c->lock);
	v = c->state == STORVSP_STATE_READY ? c->version : 0;
	pthread_mutex_unlock(&c->lock);
	return v;
}

void storvsp_ctrl_reset_state(struct storvsp_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	c->state = STORVSP_STATE_IDLE;
	c->version = 0;
	pthread_mutex_unlock(&c->lock);
}

/* A reset brings a stuck disk back (see scsi_disk_fault_stall). */
static void reset_disks(struct storvsp_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned int i = 0; i < STORVSP_MAX_LUNS; i++)
		if (c->luns[i])
			scsi_disk_fault_reset(c->luns[i]->disk);
	pthread_mutex_unlock(&c->lock);
}

static bool version_supported(uint16_t v)
{
	for (size_t i = 0; i < sizeof(storvsp_versions) /
				sizeof(storvsp_versions[0]); i++)
		if (storvsp_versions[i] == v)
			return true;
	return false;
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The parts of a packet every handler needs, copied and checked. */
struct parsed {
	const struct vmpacket_descriptor *desc;
	const uint8_t *body;		/* after the descriptor */
	uint32_t hdr_len;		/* type-specific header bytes in body */
	uint32_t payload_len;
	struct vstor_packet req;	/* zero-padded copy of the payload */
	uint32_t reply_len;
	bool wants_reply;
};

/*
 * Locate and copy the vstor packet. Returns false (after complaining) for
 * a packet too broken to answer at all.
 */
static bool parse_packet(struct storvsp_ctrl *c,
			 const struct vmpacket_descriptor *desc,
			 const void *body, uint32_t body_len, struct parsed *p)
{
	uint32_t total = (uint32_t)desc->len8 * 8u;
	uint32_t off = (uint32_t)desc->offset8 * 8u;
	const uint32_t dsz = sizeof(*desc);

	memset(p, 0, sizeof(*p));
	p->desc = desc;
	p->body = body;
	if (!body || total < dsz || off < dsz || off > total ||
	    total - dsz > body_len) {
		COMPLAIN(c, "storvsp%u: malformed descriptor (len %u, offset %u, %u bytes)",
			 c->index, total, off, body_len);
		return false;
	}
	if (desc->type != VM_PKT_DATA_INBAND &&
	    desc->type != VM_PKT_DATA_USING_GPA_DIRECT) {
		COMPLAIN(c, "storvsp%u: packet type %u not used by storage",
			 c->index, desc->type);
		return false;
	}
	p->hdr_len = off - dsz;
	p->payload_len = total - off;
	if (p->payload_len < VSTOR_PACKET_HEADER_SIZE) {
		COMPLAIN(c, "storvsp%u: %u-byte vstor packet", c->index,
			 p->payload_len);
		return false;
	}
	p->reply_len = p->payload_len < VSTOR_PACKET_SIZE ? p->payload_len :
							    VSTOR_PACKET_SIZE;
	memcpy(&p->req, p->body + p->hdr_len, p->reply_len);
	p->wants_reply = (p->req.flags & VSTOR_FLAG_REQUEST_COMPLETION) ||
			 (desc->flags & VMBUS_PKT_FLAG_COMPLETION_REQUESTED);
	return true;
}

static enum storvsp_action finish(const struct parsed *p,
				  const struct vstor_packet *rsp,
				  struct storvsp_reply *out)
{
	if (!p->wants_reply)
		return STORVSP_ACT_NONE;
	out->len = p->reply_len;
	memcpy(out->data, rsp, p->reply_len);
	return STORVSP_ACT_REPLY;
}

static void srb_fail(struct vstor_packet *rsp, uint8_t srb_status)
{
	rsp->vm_srb.srb_status = srb_status;
	rsp->vm_srb.scsi_status = SCSI_STATUS_GOOD;
	rsp->vm_srb.sense_info_length = 0;
	rsp->vm_srb.data_transfer_length = 0;
}

/*
 * Turn the GPA-direct range of an SRB into iovecs over guest RAM, for the
 * first data_len bytes. Every PFN the range lists must be RAM.
 */
static int build_iov(struct storvsp_ctrl *c, const struct parsed *p,
		     uint32_t data_len, struct storvsp_io *io, int *iovcnt)
{
	const uint8_t *h = p->body;
	uint32_t range_count, byte_count, byte_offset;
	uint64_t npages, need, avail, done = 0;
	int n = 0;

	*iovcnt = 0;
	if (p->desc->type != VM_PKT_DATA_USING_GPA_DIRECT) {
		if (data_len) {
			COMPLAIN(c, "storvsp%u: %u data bytes without a buffer",
				 c->index, data_len);
			return -EINVAL;
		}
		return 0;
	}
	if (p->hdr_len < 8) {
		COMPLAIN(c, "storvsp%u: GPA-direct header cut short", c->index);
		return -EINVAL;
	}
	range_count = get_le32(h + 4);
	if (range_count == 0) {
		if (data_len) {
			COMPLAIN(c, "storvsp%u: %u data bytes, no range",
				 c->index, data_len);
			return -EINVAL;
		}
		return 0;
	}
	if (range_count != 1 || p->hdr_len < 16) {
		COMPLAIN(c, "storvsp%u: %u GPA ranges (one expected)",
			 c->index, range_count);
		return -EINVAL;
	}
	byte_count = get_le32(h + 8);
	byte_offset = get_le32(h + 12);
	if (byte_offset >= VIRIDIAN_PAGE_SIZE ||
	    byte_count > STORVSP_MAX_TRANSFER_BYTES || data_len > byte_count) {
		COMPLAIN(c, "storvsp%u: bad range (offset %u, count %u, data %u)",
			 c->index, byte_offset, byte_count, data_len);
		return -EINVAL;
	}
	npages = ((uint64_t)byte_offset + byte_count + VIRIDIAN_PAGE_SIZE - 1) /
		 VIRIDIAN_PAGE_SIZE;
	avail = (p->hdr_len - 16) / 8;
	if (npages > avail) {
		COMPLAIN(c, "storvsp%u: range needs %" PRIu64 " PFNs, packet has %" PRIu64,
			 c->index, npages, avail);
		return -EINVAL;
	}
	need = data_len ? ((uint64_t)byte_offset + data_len +
			   VIRIDIAN_PAGE_SIZE - 1) / VIRIDIAN_PAGE_SIZE : 0;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pfn = get_le64(h + 16 + 8 * i);
		uint32_t page_off = i ? 0 : byte_offset;
		uint64_t chunk = VIRIDIAN_PAGE_SIZE - page_off;
		uint8_t *ptr;

		if (pfn > (UINT64_MAX >> VIRIDIAN_PAGE_SHIFT)) {
			COMPLAIN(c, "storvsp%u: PFN 0x%" PRIx64 " out of range",
				 c->index, pfn);
			return -EINVAL;
		}
		if (i < need && chunk > data_len - done)
			chunk = data_len - done;
		ptr = io->gpa(io->gpa_ctx,
			      (pfn << VIRIDIAN_PAGE_SHIFT) + page_off,
			      i < need ? chunk : VIRIDIAN_PAGE_SIZE - page_off);
		if (!ptr) {
			COMPLAIN(c, "storvsp%u: PFN 0x%" PRIx64 " is not guest RAM",
				 c->index, pfn);
			return -EFAULT;
		}
		if (i >= need)
			continue;
		/* Guest RAM is one mapping: neighbouring pages merge. */
		if (n && (uint8_t *)io->iov[n - 1].iov_base +
				 io->iov[n - 1].iov_len == ptr) {
			io->iov[n - 1].iov_len += chunk;
		} else {
			io->iov[n].iov_base = ptr;
			io->iov[n].iov_len = chunk;
			n++;
		}
		done += chunk;
	}
	*iovcnt = n;
	return 0;
}

/*
 * REPORT LUNS answered by the controller: it knows every LUN of target 0,
 * and a target must answer it even when LUN 0 is absent.
 */
static void report_luns(struct storvsp_ctrl *c, const uint8_t *cdb,
			unsigned int cdb_len, const struct iovec *iov,
			int iovcnt, uint32_t data_len, bool data_in,
			struct scsi_result *res)
{
	unsigned int luns[STORVSP_MAX_LUNS];
	uint8_t buf[8 + 8 * STORVSP_MAX_LUNS];
	size_t n = 0, len;
	uint32_t alloc;

	memset(res, 0, sizeof(*res));
	res->residual = data_len;
	if (cdb_len < 12) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	alloc = (uint32_t)cdb[6] << 24 | (uint32_t)cdb[7] << 16 |
		(uint32_t)cdb[8] << 8 | cdb[9];
	if (alloc < 16 || (data_len && !data_in)) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (unsigned int i = 0; i < STORVSP_MAX_LUNS; i++)
		if (c->luns[i])
			luns[n++] = i;
	pthread_mutex_unlock(&c->lock);
	len = scsi_report_luns_data(buf, sizeof(buf), luns, n);
	len = scsi_iov_copy_to(iov, iovcnt, alloc < data_len ? alloc : data_len,
			       buf, len);
	res->residual = data_len - len;
}

/*
 * INQUIRY of an absent LUN of a present target: peripheral qualifier 011b
 * ("no logical unit here"), so the guest still scans the target with
 * REPORT LUNS when LUN 0 is missing.
 */
static void inquiry_no_lun(const uint8_t *cdb, const struct iovec *iov,
			   int iovcnt, uint32_t data_len,
			   struct scsi_result *res)
{
	uint8_t buf[36];
	uint16_t alloc = (uint16_t)(cdb[3] << 8 | cdb[4]);
	size_t len;

	memset(res, 0, sizeof(*res));
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x7f;
	buf[2] = 0x06;
	buf[3] = 0x12;
	buf[4] = sizeof(buf) - 5;
	memcpy(&buf[8], "Msft    Virtual Disk    1.0 ", 28);
	len = scsi_iov_copy_to(iov, iovcnt, alloc < data_len ? alloc : data_len,
			       buf, sizeof(buf));
	res->residual = data_len - len;
}

static void srb_result(const struct scsi_result *res, uint32_t data_len,
		       uint16_t version, const struct vstor_packet *req,
		       struct vstor_packet *rsp)
{
	struct vmscsi_request *srb = &rsp->vm_srb;
	size_t n;

	srb->scsi_status = res->status;
	if (res->status == SCSI_STATUS_GOOD) {
		srb->srb_status = SRB_STATUS_SUCCESS;
		srb->sense_info_length = 0;
		srb->data_transfer_length =
			(uint32_t)(data_len - (res->residual < data_len ?
					       res->residual : data_len));
		return;
	}
	srb->srb_status = SRB_STATUS_ERROR;
	srb->data_transfer_length = 0;
	n = res->sense_len;
	if (n > req->vm_srb.sense_info_length)
		n = req->vm_srb.sense_info_length;
	if (n > vstor_sense_size(version))
		n = vstor_sense_size(version);
	srb->sense_info_length = (uint8_t)n;
	if (n) {
		srb->srb_status |= SRB_STATUS_AUTOSENSE_VALID;
		memset(srb->cdb_sense_area, 0, sizeof(srb->cdb_sense_area));
		memcpy(srb->sense_data, res->sense, n);
	}
}

static enum storvsp_action execute_srb(struct storvsp_ctrl *c,
				       const struct parsed *p,
				       uint16_t version, unsigned int flags,
				       uint64_t now_ns, struct storvsp_io *io,
				       struct vstor_packet *rsp,
				       struct storvsp_reply *out)
{
	const struct vmscsi_request *srb = &p->req.vm_srb;
	uint32_t data_len = srb->data_transfer_length;
	bool data_in = srb->data_in == VMSCSI_DATA_IN;
	struct storvsp_lun *l = NULL;
	struct scsi_result res;
	int iovcnt = 0;
	bool ours;

	if (srb->cdb_length == 0 || srb->cdb_length > VMSCSI_CDB_SIZE ||
	    srb->data_in > VMSCSI_DATA_UNKNOWN ||
	    (srb->data_in == VMSCSI_DATA_UNKNOWN && data_len)) {
		COMPLAIN(c, "storvsp%u: bad SRB (cdb %u bytes, direction %u, %u data bytes)",
			 c->index, srb->cdb_length, srb->data_in, data_len);
		srb_fail(rsp, SRB_STATUS_INVALID_REQUEST);
		return STORVSP_ACT_REPLY;
	}
	if (build_iov(c, p, data_len, io, &iovcnt)) {
		srb_fail(rsp, SRB_STATUS_INVALID_REQUEST);
		return STORVSP_ACT_REPLY;
	}

	/* Path 0, target 0; an IDE channel's one disk sits at its target. */
	ours = !srb->path_id &&
	       srb->target_id == (c->kind == STORVSP_KIND_IDE ? c->ide_target : 0);
	if (ours)
		l = storvsp_ctrl_get(c, srb->lun);
	if (ours && srb->cdb[0] == SCSI_OP_REPORT_LUNS) {
		report_luns(c, srb->cdb, srb->cdb_length, io->iov, iovcnt,
			    data_len, data_in, &res);
	} else if (!l && ours &&
		   srb->cdb[0] == SCSI_OP_INQUIRY && srb->cdb_length >= 6 &&
		   !(srb->cdb[1] & 0x01) && data_in) {
		inquiry_no_lun(srb->cdb, io->iov, iovcnt, data_len, &res);
	} else if (!l) {
		srb_fail(rsp, SRB_STATUS_INVALID_LUN);
		return STORVSP_ACT_REPLY;
	} else {
		if (!(flags & STORVSP_NO_STALL)) {
			uint64_t until = UINT64_MAX, gen = 0;
			enum scsi_stall stall;

			stall = scsi_disk_stall_policy(l->disk, now_ns, &until,
						       &gen);
			if (stall != SCSI_STALL_NONE) {
				out->hold_until_ns = stall == SCSI_STALL_TIMED ?
						     until : UINT64_MAX;
				out->hold_gen = gen;
				out->hold_lun = srb->lun;
				storvsp_ctrl_put(c, l);
				return STORVSP_ACT_HOLD;
			}
		}
		if (scsi_disk_execute(l->disk, srb->cdb, srb->cdb_length,
				      io->iov, iovcnt, data_len, data_in,
				      &res)) {
			storvsp_ctrl_put(c, l);
			srb_fail(rsp, SRB_STATUS_INVALID_REQUEST);
			return STORVSP_ACT_REPLY;
		}
	}
	storvsp_ctrl_put(c, l);
	srb_result(&res, data_len, version, &p->req, rsp);
	TRACE("storvsp%u: lun %u op 0x%02x len %u: srb 0x%02x scsi 0x%02x moved %u",
	      c->index, srb->lun, srb->cdb[0], data_len,
	      rsp->vm_srb.srb_status, rsp->vm_srb.scsi_status,
	      rsp->vm_srb.data_transfer_length);
	return STORVSP_ACT_REPLY;
}

enum storvsp_action storvsp_handle_packet(struct storvsp_ctrl *c,
					  bool primary,
					  const struct vmpacket_descriptor *desc,
					  const void *body, uint32_t body_len,
					  unsigned int flags, uint64_t now_ns,
					  struct storvsp_io *io,
					  struct storvsp_reply *out)
{
	struct vstor_packet rsp;
	enum storvsp_state state;
	enum storvsp_action act;
	struct parsed p;
	uint16_t version;
	uint32_t min_len;

	memset(out, 0, sizeof(*out));
	out->trans_id = desc->trans_id;
	if (!parse_packet(c, desc, body, body_len, &p))
		return STORVSP_ACT_NONE;

	pthread_mutex_lock(&c->lock);
	version = c->version;
	state = c->state;
	pthread_mutex_unlock(&c->lock);

	rsp = p.req;
	rsp.operation = VSTOR_OPERATION_COMPLETE_IO;
	rsp.status = VSTOR_STATUS_SUCCESS;

	/* Before a version is agreed the guest may send the short form. */
	min_len = version ? vstor_packet_size(version) :
			    VSTOR_PACKET_SIZE_PRE_WIN8;
	if (p.payload_len < min_len) {
		COMPLAIN(c, "storvsp%u: %u-byte vstor packet, %u expected",
			 c->index, p.payload_len, min_len);
		rsp.status = VSTOR_STATUS_INVALID_PARAMETER;
		return finish(&p, &rsp, out);
	}
	if (desc->type == VM_PKT_DATA_USING_GPA_DIRECT &&
	    p.req.operation != VSTOR_OPERATION_EXECUTE_SRB) {
		COMPLAIN(c, "storvsp%u: operation %u with a GPA-direct buffer",
			 c->index, p.req.operation);
		rsp.status = VSTOR_STATUS_INVALID_PARAMETER;
		return finish(&p, &rsp, out);
	}
	/* Sub-channels carry I/O only; set-up belongs to the primary. */
	if (!primary && p.req.operation != VSTOR_OPERATION_EXECUTE_SRB &&
	    p.req.operation != VSTOR_OPERATION_RESET_LUN &&
	    p.req.operation != VSTOR_OPERATION_RESET_BUS &&
	    p.req.operation != VSTOR_OPERATION_RESET_ADAPTER) {
		COMPLAIN(c, "storvsp%u: operation %u on a sub-channel",
			 c->index, p.req.operation);
		rsp.status = VSTOR_STATUS_INVALID_DEVICE_REQUEST;
		return finish(&p, &rsp, out);
	}

	switch (p.req.operation) {
	case VSTOR_OPERATION_BEGIN_INITIALIZATION:
		pthread_mutex_lock(&c->lock);
		c->state = STORVSP_STATE_INIT;
		c->version = 0;
		pthread_mutex_unlock(&c->lock);
		break;

	case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION: {
		uint16_t want = p.req.version.major_minor;

		if (state != STORVSP_STATE_INIT) {
			rsp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		if (!version_supported(want)) {
			/* Normal: the guest walks down its list. */
			rsp.status = VSTOR_STATUS_REVISION_MISMATCH;
			break;
		}
		pthread_mutex_lock(&c->lock);
		c->version = want;
		pthread_mutex_unlock(&c->lock);
		break;
	}

	case VSTOR_OPERATION_QUERY_PROPERTIES: {
		struct vmstorage_channel_properties *prop = &rsp.properties;

		if (!version) {
			rsp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		memset(rsp.buffer, 0, sizeof(rsp.buffer));
		prop->max_channel_count = c->max_subchannels;
		prop->flags = c->max_subchannels ?
			      STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL : 0;
		prop->max_transfer_bytes = STORVSP_MAX_TRANSFER_BYTES;
		break;
	}

	case VSTOR_OPERATION_FCHBA_DATA:
		if (c->kind != STORVSP_KIND_FC || !version) {
			COMPLAIN(c, "storvsp%u: FCHBA_DATA %s", c->index,
				 version ? "on a controller that is not FC" :
					   "before a version was agreed");
			rsp.status = c->kind != STORVSP_KIND_FC ?
				     VSTOR_STATUS_INVALID_DEVICE_REQUEST :
				     VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		memset(rsp.buffer, 0, sizeof(rsp.buffer));
		rsp.wwn = c->wwn;
		break;

	case VSTOR_OPERATION_END_INITIALIZATION:
		if (state != STORVSP_STATE_INIT || !version) {
			rsp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		pthread_mutex_lock(&c->lock);
		c->state = STORVSP_STATE_READY;
		pthread_mutex_unlock(&c->lock);
		break;

	case VSTOR_OPERATION_CREATE_SUB_CHANNELS: {
		uint16_t n = p.req.sub_channel_count;

		if (state != STORVSP_STATE_READY) {
			rsp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			break;
		}
		if (!n || n > c->max_subchannels) {
			COMPLAIN(c, "storvsp%u: %u sub-channels asked, %u offered at most",
				 c->index, n, c->max_subchannels);
			rsp.status = VSTOR_STATUS_INVALID_PARAMETER;
			break;
		}
		out->offer_subchannels = n;
		break;
	}

	case VSTOR_OPERATION_RESET_LUN:
	case VSTOR_OPERATION_RESET_BUS:
	case VSTOR_OPERATION_RESET_ADAPTER:
		out->reset = true;
		reset_disks(c);
		break;

	case VSTOR_OPERATION_EXECUTE_SRB:
		if (state != STORVSP_STATE_READY) {
			COMPLAIN(c, "storvsp%u: SRB before initialisation ended",
				 c->index);
			rsp.status = VSTOR_STATUS_INVALID_DEVICE_STATE;
			srb_fail(&rsp, SRB_STATUS_INVALID_REQUEST);
			break;
		}
		act = execute_srb(c, &p, version, flags, now_ns, io, &rsp, out);
		if (act == STORVSP_ACT_HOLD)
			return act;
		break;

	default:
		COMPLAIN(c, "storvsp%u: operation %u not served", c->index,
			 p.req.operation);
		rsp.status = VSTOR_STATUS_INVALID_DEVICE_REQUEST;
		break;
	}
	return finish(&p, &rsp, out);
}

enum storvsp_action storvsp_abort_packet(struct storvsp_ctrl *c,
					 const struct vmpacket_descriptor *desc,
					 const void *body, uint32_t body_len,
					 struct storvsp_reply *out)
{
	struct vstor_packet rsp;
	struct scsi_result res;
	struct parsed p;
	uint16_t version;

	memset(out, 0, sizeof(*out));
	out->trans_id = desc->trans_id;
	if (!parse_packet(c, desc, body, body_len, &p))
		return STORVSP_ACT_NONE;
	pthread_mutex_lock(&c->lock);
	version = c->version;
	pthread_mutex_unlock(&c->lock);

	rsp = p.req;
	rsp.operation = VSTOR_OPERATION_COMPLETE_IO;
	if (p.req.operation != VSTOR_OPERATION_EXECUTE_SRB) {
		rsp.status = VSTOR_STATUS_CANCELLED;
		return finish(&p, &rsp, out);
	}
	rsp.status = VSTOR_STATUS_SUCCESS;
	memset(&res, 0, sizeof(res));
	scsi_set_sense(&res, SCSI_SK_ABORTED_COMMAND, SCSI_ASC_NONE);
	srb_result(&res, 0, version ? version : VMSTOR_PROTO_VERSION_WIN8,
		   &p.req, &rsp);
	rsp.vm_srb.srb_status = (rsp.vm_srb.srb_status &
				 SRB_STATUS_AUTOSENSE_VALID) |
				SRB_STATUS_ABORTED;
	return finish(&p, &rsp, out);
}

bool storvsp_hold_expired(struct storvsp_ctrl *c,
			  const struct storvsp_reply *hold, uint64_t now_ns)
{
	struct storvsp_lun *l;
	bool expired;

	if (now_ns >= hold->hold_until_ns)
		return true;
	l = storvsp_ctrl_get(c, hold->hold_lun);
	if (!l)
		return true;		/* gone: it will fail with INVALID_LUN */
	expired = scsi_disk_stall_generation(l->disk) != hold->hold_gen;
	storvsp_ctrl_put(c, l);
	return expired;
}

uint32_t storvsp_build_notification(struct storvsp_ctrl *c, uint32_t operation,
				    void *buf)
{
	struct vstor_packet pkt;
	uint16_t version = storvsp_ctrl_ready_version(c);
	uint32_t len;

	if (!version)
		return 0;
	memset(&pkt, 0, sizeof(pkt));
	pkt.operation = operation;
	len = vstor_packet_size(version);
	memcpy(buf, &pkt, len);
	return len;
}
