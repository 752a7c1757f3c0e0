// SPDX-License-Identifier: GPL-2.0
/*
 * Pure storage-protocol logic for viridian_storvsc; see storvsc_protocol.h.
 * Nothing here touches a channel, a SCSI host or memory beyond its
 * arguments.
 */
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <scsi/scsi_proto.h>
#include <scsi/scsi_status.h>
#include <viridian/wire/ring.h>

#include "storvsc_protocol.h"

/*
 * 4.2 is worth keeping: it costs only the shorter packet, and Windows
 * Server 2008 R2 hosts speak nothing newer.
 */
static const u16 storvsc_versions[] = {
	VMSTOR_PROTO_VERSION_WIN10,
	VMSTOR_PROTO_VERSION_WIN8_1,
	VMSTOR_PROTO_VERSION_WIN8,
	VMSTOR_PROTO_VERSION_WIN7,
};

unsigned int storvsc_proto_version_count(void)
{
	return ARRAY_SIZE(storvsc_versions);
}

u16 storvsc_proto_version_at(unsigned int i)
{
	return i < ARRAY_SIZE(storvsc_versions) ? storvsc_versions[i] : 0;
}

bool storvsc_proto_has_subchannels(u16 version)
{
	return version >= VMSTOR_PROTO_VERSION_WIN8;
}

bool storvsc_proto_cmd_allowed(u16 version, u8 opcode)
{
	if (version > VMSTOR_PROTO_VERSION_WIN8)
		return true;
	return opcode != WRITE_SAME && opcode != SET_WINDOW;
}

bool storvsc_proto_write_same_ok(u16 version, bool vendor_is_msft)
{
	return vendor_is_msft && version >= VMSTOR_PROTO_VERSION_WIN10;
}

bool storvsc_proto_claim_spc3(u16 version, bool vendor_is_msft)
{
	return vendor_is_msft && (version == VMSTOR_PROTO_VERSION_WIN8 ||
				  version == VMSTOR_PROTO_VERSION_WIN8_1);
}

bool storvsc_sense_parse(const u8 *buf, u32 len, struct storvsc_sense *out)
{
	u8 response_code;

	out->key = 0;
	out->asc = 0;
	out->ascq = 0;
	if (!buf || len < 1)
		return false;

	response_code = buf[0] & 0x7f;
	switch (response_code) {
	case 0x70:
	case 0x71:
		if (len < 3)
			return false;
		out->key = buf[2] & 0x0f;
		/* ASC and ASCQ exist only if the additional length covers them. */
		if (len >= 14 && buf[7] >= 6) {
			out->asc = buf[12];
			out->ascq = buf[13];
		}
		return true;
	case 0x72:
	case 0x73:
		if (len < 4)
			return false;
		out->key = buf[1] & 0x0f;
		out->asc = buf[2];
		out->ascq = buf[3];
		return true;
	default:
		return false;
	}
}

enum storvsc_sense_class storvsc_sense_classify(const struct storvsc_sense *s)
{
	if (s->key != VMSTOR_SENSE_KEY_UNIT_ATTENTION)
		return STORVSC_SENSE_OTHER;
	if (s->asc == VMSTOR_ASC_PARAMETERS_CHANGED &&
	    s->ascq == VMSTOR_ASCQ_CAPACITY_DATA_CHANGED)
		return STORVSC_SENSE_CAPACITY_CHANGED;
	if (s->asc == 0x3f) {
		if (s->ascq == 0x0e)
			return STORVSC_SENSE_LUNS_CHANGED;
		/*
		 * 3f/03 (INQUIRY data changed) is the midlayer's to report;
		 * every other "operating conditions changed" may move limits
		 * such as the discard granularity.
		 */
		if (s->ascq != 0x03)
			return STORVSC_SENSE_OPERATING_PARAMS_CHANGED;
	}
	return STORVSC_SENSE_OTHER;
}

static bool storvsc_opcode_is_passthrough(u8 opcode)
{
	return opcode == ATA_12 || opcode == ATA_16;
}

/*
 * Hyper-V fails some INQUIRY and MODE SENSE variants (INQUIRY page 0x80,
 * MODE SENSE page 0x1c) with SRB_STATUS_ERROR and no sense. Reporting
 * those as short, successful transfers keeps the disk online; sd copes
 * with the missing page.
 */
static bool storvsc_opcode_error_is_benign(u8 opcode)
{
	return opcode == INQUIRY || opcode == MODE_SENSE ||
	       opcode == MODE_SENSE_10;
}

static void storvsc_map_sense(const struct storvsc_io_status *in,
			      struct storvsc_io_result *out)
{
	out->host_byte = DID_OK;
	out->scsi_status = SAM_STAT_CHECK_CONDITION;
	out->copy_sense = true;
	out->log = STORVSC_LOG_ERROR;

	switch (storvsc_sense_classify(&in->sense)) {
	case STORVSC_SENSE_CAPACITY_CHANGED:
	case STORVSC_SENSE_OPERATING_PARAMS_CHANGED:
		/*
		 * The command did nothing wrong: retry it without spending a
		 * retry, and re-read the device so the new size or limits
		 * reach the block layer.
		 */
		out->host_byte = DID_REQUEUE;
		out->followup = STORVSC_FOLLOWUP_RESCAN_DEVICE;
		out->log = STORVSC_LOG_WARN;
		return;
	case STORVSC_SENSE_LUNS_CHANGED:
		out->followup = STORVSC_FOLLOWUP_SCAN_HOST;
		out->log = STORVSC_LOG_WARN;
		return;
	case STORVSC_SENSE_OTHER:
		break;
	}

	if (in->sense.key == VMSTOR_SENSE_KEY_UNIT_ATTENTION ||
	    in->opcode == TEST_UNIT_READY)
		out->log = STORVSC_LOG_WARN;
}

void storvsc_map_completion(const struct storvsc_io_status *in,
			    struct storvsc_io_result *out)
{
	u8 code = srb_status_code(in->srb_status);
	u32 transferred = in->transferred;
	bool keep_length = false;

	out->host_byte = DID_OK;
	out->scsi_status = in->scsi_status;
	out->copy_sense = false;
	out->followup = STORVSC_FOLLOWUP_NONE;
	out->log = STORVSC_LOG_NONE;

	if (code == SRB_STATUS_INVALID_LUN) {
		/* Also seen while scanning LUNs that never existed. */
		out->host_byte = DID_NO_CONNECT;
		out->followup = STORVSC_FOLLOWUP_REMOVE_DEVICE;
		out->log = STORVSC_LOG_WARN;
	} else if (in->scsi_status == SAM_STAT_CHECK_CONDITION &&
		   in->sense_valid) {
		storvsc_map_sense(in, out);
		keep_length = code == SRB_STATUS_SUCCESS ||
			      code == SRB_STATUS_DATA_OVERRUN;
	} else {
		switch (code) {
		case SRB_STATUS_SUCCESS:
			keep_length = true;
			if (in->scsi_status != SAM_STAT_GOOD)
				out->log = STORVSC_LOG_WARN;
			break;
		case SRB_STATUS_DATA_OVERRUN:
			/* Under- or overrun: the host's length is the truth. */
			keep_length = true;
			break;
		case SRB_STATUS_ERROR:
		case SRB_STATUS_ABORTED:
		case SRB_STATUS_INVALID_REQUEST:
			if (storvsc_opcode_error_is_benign(in->opcode)) {
				out->scsi_status = SAM_STAT_GOOD;
				keep_length = true;
				out->log = STORVSC_LOG_WARN;
			} else if (in->opcode == TEST_UNIT_READY) {
				/* Some hosts fail TUR this way; sd decides. */
				out->log = STORVSC_LOG_WARN;
			} else if (storvsc_opcode_is_passthrough(in->opcode)) {
				out->host_byte = DID_PASSTHROUGH;
				out->log = STORVSC_LOG_WARN;
			} else {
				out->host_byte = DID_ERROR;
				out->log = STORVSC_LOG_ERROR;
			}
			break;
		case SRB_STATUS_INVALID_TARGET_ID:
		case SRB_STATUS_INVALID_PATH_ID:
		case SRB_STATUS_NO_DEVICE:
		case SRB_STATUS_NO_HBA:
		case SRB_STATUS_SELECTION_TIMEOUT:
			out->host_byte = DID_NO_CONNECT;
			out->log = STORVSC_LOG_WARN;
			break;
		case SRB_STATUS_BUSY:
			out->host_byte = DID_BUS_BUSY;
			out->log = STORVSC_LOG_WARN;
			break;
		case SRB_STATUS_TIMEOUT:
		case SRB_STATUS_COMMAND_TIMEOUT:
			out->host_byte = DID_TIME_OUT;
			out->log = STORVSC_LOG_ERROR;
			break;
		case SRB_STATUS_BUS_RESET:
		case SRB_STATUS_REQUEST_FLUSHED:
			out->host_byte = DID_RESET;
			out->log = STORVSC_LOG_WARN;
			break;
		default:
			/* Pending, unknown or nonsense: never report success. */
			out->host_byte = DID_ERROR;
			out->log = STORVSC_LOG_ERROR;
			break;
		}
	}

	if (!keep_length)
		transferred = 0;
	/* The host cannot have moved more than the guest offered. */
	transferred = min(transferred, in->requested);
	out->resid = in->requested - transferred;
}

static u32 storvsc_max_pfns(u32 ring_data_bytes, u32 packet_size)
{
	u32 limit = min_t(u32, VMBUS_MAX_PACKET_SIZE, ring_data_bytes / 4);
	u32 fixed = sizeof(struct vmbus_packet_gpa_direct) +
		    sizeof(struct vmbus_packet_gpa_range) + packet_size +
		    VMBUS_PACKET_TRAILER_SIZE;

	if (limit <= fixed + 2 * sizeof(u64))
		return 2;
	return (limit - fixed) / sizeof(u64);
}

void storvsc_transfer_limits(u32 host_max, bool is_fc, u32 ring_data_bytes,
			     u32 fallback_bytes, struct storvsc_limits *out)
{
	u32 bytes = host_max < VIRIDIAN_PAGE_SIZE ? fallback_bytes : host_max;
	u32 pages, max_pfns;

	if (is_fc)
		bytes = min_t(u32, bytes, VMSTOR_FC_MAX_TRANSFER_BYTES);
	pages = bytes >> VIRIDIAN_PAGE_SHIFT;

	/* An unaligned buffer spans one page more than its length. */
	max_pfns = storvsc_max_pfns(ring_data_bytes, VSTOR_PACKET_SIZE);
	if (pages > max_pfns - 1)
		pages = max_pfns - 1;
	if (!pages)
		pages = 1;

	out->max_bytes = pages << VIRIDIAN_PAGE_SHIFT;
	out->max_sectors = out->max_bytes >> 9;
	out->sg_tablesize = pages + 1;
}

u32 storvsc_buffer_pages(u32 first_offset, u32 length)
{
	u64 end = (u64)first_offset + length;

	return (u32)((end + VIRIDIAN_PAGE_SIZE - 1) >> VIRIDIAN_PAGE_SHIFT);
}

u32 storvsc_srb_footprint(u32 pfns, u32 packet_size)
{
	if (!pfns)
		return vmbus_ring_packet_footprint(sizeof(struct vmpacket_descriptor) +
						   packet_size);
	return vmbus_ring_packet_footprint(sizeof(struct vmbus_packet_gpa_direct) +
					   sizeof(struct vmbus_packet_gpa_range) +
					   pfns * sizeof(u64) + packet_size);
}

u32 storvsc_channel_queue_depth(u32 ring_data_bytes, u32 packet_size,
				u32 typical_pfns, u32 lowater_percent)
{
	u32 per_packet = storvsc_srb_footprint(typical_pfns, packet_size);
	u32 depth;

	if (lowater_percent > 90)
		lowater_percent = 90;
	depth = ring_data_bytes / per_packet;
	depth = depth * (100 - lowater_percent) / 100;
	return max_t(u32, depth, 1);
}

bool storvsc_ring_has_room(u32 free_bytes, u32 ring_data_bytes,
			   u32 lowater_percent, u32 need_bytes)
{
	if (free_bytes <= need_bytes)
		return false;
	return (u64)free_bytes * 100 > (u64)ring_data_bytes * lowater_percent;
}

u16 storvsc_subchannels_wanted(u32 online_cpus, u16 host_max, u32 user_cap,
			       bool host_multichannel, u16 version)
{
	u32 n;

	if (!host_multichannel || !storvsc_proto_has_subchannels(version) ||
	    online_cpus <= 1)
		return 0;
	n = min_t(u32, online_cpus - 1, host_max);
	if (user_cap)
		n = min_t(u32, n, user_cap - 1);
	return (u16)n;
}

static u64 storvsc_wwn_to_u64(const u8 *wwn)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < VMSTOR_WWN_SIZE; i++)
		v = (v << 8) | wwn[i];
	return v;
}

void storvsc_fc_wwns(const struct vmstorage_fc_wwn *wwn, u64 *port_name,
		     u64 *node_name)
{
	if (wwn->primary_active) {
		*port_name = storvsc_wwn_to_u64(wwn->primary_port_wwn);
		*node_name = storvsc_wwn_to_u64(wwn->primary_node_wwn);
	} else {
		*port_name = storvsc_wwn_to_u64(wwn->secondary_port_wwn);
		*node_name = storvsc_wwn_to_u64(wwn->secondary_node_wwn);
	}
}
