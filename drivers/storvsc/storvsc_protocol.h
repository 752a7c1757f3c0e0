/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The decisions of the storage client that need no hardware and no SCSI
 * midlayer: which protocol versions to offer, packet sizes, how a host's SRB
 * status and sense data become a SCSI result, transfer limits and queue
 * depths. Plain integers in and out, so KUnit can test all of it under UML.
 */
#ifndef VIRIDIAN_STORVSC_PROTOCOL_H
#define VIRIDIAN_STORVSC_PROTOCOL_H

#include <linux/types.h>
#include <viridian/wire/storage.h>

/* Protocol versions, best first. */
unsigned int storvsc_proto_version_count(void);
/* The i-th version to propose, or 0 past the end. */
u16 storvsc_proto_version_at(unsigned int i);

/* Before protocol 5.1 the host has no sub-channels. */
bool storvsc_proto_has_subchannels(u16 version);

/*
 * Hosts up to 5.1 mishandle a few commands (WRITE SAME(10), SET WINDOW)
 * instead of failing them; the guest fails those itself.
 */
bool storvsc_proto_cmd_allowed(u16 version, u8 opcode);

/* Hyper-V's own disks handle WRITE SAME from 6.2 on. */
bool storvsc_proto_write_same_ok(u16 version, bool vendor_is_msft);
/* Hyper-V's disks claim SPC-2 but implement SPC-3 on 5.1 and 6.0 hosts. */
bool storvsc_proto_claim_spc3(u16 version, bool vendor_is_msft);

/* Sense data, fixed or descriptor format. */
struct storvsc_sense {
	u8 key;
	u8 asc;
	u8 ascq;
};

/* False when buf holds no usable sense (too short, unknown format). */
bool storvsc_sense_parse(const u8 *buf, u32 len, struct storvsc_sense *out);

enum storvsc_sense_class {
	STORVSC_SENSE_OTHER,
	/* 06/2a/09: the host resized the disk. */
	STORVSC_SENSE_CAPACITY_CHANGED,
	/* 06/3f/xx but 03 and 0e: e.g. a new block size under a VHD. */
	STORVSC_SENSE_OPERATING_PARAMS_CHANGED,
	/* 06/3f/0e: LUNs were added or removed on this target. */
	STORVSC_SENSE_LUNS_CHANGED,
};

enum storvsc_sense_class storvsc_sense_classify(const struct storvsc_sense *s);

/* What a completion asks the driver to do besides finishing the command. */
enum storvsc_followup {
	STORVSC_FOLLOWUP_NONE,
	STORVSC_FOLLOWUP_RESCAN_DEVICE,	/* re-read capacity, VPD, ... */
	STORVSC_FOLLOWUP_REMOVE_DEVICE,	/* the LUN is gone */
	STORVSC_FOLLOWUP_SCAN_HOST,	/* look for new LUNs */
};

enum storvsc_log {
	STORVSC_LOG_NONE,
	STORVSC_LOG_WARN,	/* expected in normal operation, rate-limited */
	STORVSC_LOG_ERROR,
};

/* A COMPLETE_IO for an SRB, as the host reported it. */
struct storvsc_io_status {
	u8 srb_status;		/* with its flag bits */
	u8 scsi_status;
	u8 opcode;		/* cdb[0] of the request */
	u32 requested;		/* data bytes the guest sent */
	u32 transferred;	/* data_transfer_length from the host */
	bool sense_valid;	/* autosense flagged and parsed */
	struct storvsc_sense sense;
};

struct storvsc_io_result {
	u8 host_byte;		/* DID_* */
	u8 scsi_status;		/* SAM_STAT_* */
	bool copy_sense;	/* hand the host's sense to the midlayer */
	u32 resid;		/* bytes not transferred */
	enum storvsc_followup followup;
	enum storvsc_log log;
};

void storvsc_map_completion(const struct storvsc_io_status *in,
			    struct storvsc_io_result *out);

/* Transfer limits from the host's max_transfer_bytes. */
struct storvsc_limits {
	u32 max_bytes;		/* whole pages */
	u32 max_sectors;	/* 512-byte units */
	u32 sg_tablesize;	/* pages an unaligned buffer of max_bytes spans */
};

/*
 * host_max 0 or below a page (a broken host) falls back to fallback_bytes.
 * The result also keeps one EXECUTE_SRB packet within a quarter of the ring
 * and within VMBUS_MAX_PACKET_SIZE.
 */
void storvsc_transfer_limits(u32 host_max, bool is_fc, u32 ring_data_bytes,
			     u32 fallback_bytes, struct storvsc_limits *out);

/* Pages one data buffer spans: first-page offset plus length. */
u32 storvsc_buffer_pages(u32 first_offset, u32 length);

/* Guest-to-host ring bytes of one EXECUTE_SRB with this many PFNs. */
u32 storvsc_srb_footprint(u32 pfns, u32 packet_size);

/*
 * Requests one channel should have outstanding: a ring's data area filled
 * with typical (typical_pfns) packets, minus the low-water reserve.
 */
u32 storvsc_channel_queue_depth(u32 ring_data_bytes, u32 packet_size,
				u32 typical_pfns, u32 lowater_percent);

/* True when free_bytes is above lowater_percent of the ring. */
bool storvsc_ring_has_room(u32 free_bytes, u32 ring_data_bytes,
			   u32 lowater_percent, u32 need_bytes);

/*
 * Sub-channels to ask for: one per further online CPU, up to what the host
 * offers and the administrator's cap (0: no cap).
 */
u16 storvsc_subchannels_wanted(u32 online_cpus, u16 host_max, u32 user_cap,
			       bool host_multichannel, u16 version);

/* The active port and node WWNs of an FCHBA_DATA answer. */
void storvsc_fc_wwns(const struct vmstorage_fc_wwn *wwn, u64 *port_name,
		     u64 *node_name);

#endif /* VIRIDIAN_STORVSC_PROTOCOL_H */
