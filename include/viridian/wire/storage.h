/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Synthetic storage (vstor): the packets storvsc and storvsp exchange over
 * the SCSI, IDE-accelerator and synthetic FC channels. Shared by the guest
 * driver (viridian_storvsc.ko) and host-sim's storvsp.
 *
 * Every packet is a struct vstor_packet carried in-band; EXECUTE_SRB with
 * data travels as a GPA-direct packet whose single range describes the data
 * buffer (byte offset into the first page, byte count, then PFNs). The host
 * answers each request that has VSTOR_FLAG_REQUEST_COMPLETION with a
 * COMPLETE_IO packet carrying the request's transaction ID. Notifications
 * the host starts on its own (ENUMERATE_BUS, REMOVE_DEVICE, FCHBA_DATA)
 * carry transaction ID 0.
 *
 * Packet size by version: hosts before protocol 5.1 (Windows 8) know
 * neither the Windows 8 extension at the end of struct vmscsi_request nor
 * the two extra sense bytes. With them a packet is 48 bytes and sense is at
 * most 18 bytes; from 5.1 on a packet is 64 bytes and sense 20 bytes. Once
 * a version is agreed, every packet either side sends is exactly
 * vstor_packet_size() of it. Before that (BEGIN_INITIALIZATION and the
 * QUERY_PROTOCOL_VERSION attempts) the guest sends 64 bytes, as Linux does;
 * the host accepts 48 to 64 bytes there. The host answers every request
 * with a COMPLETE_IO packet (VM_PKT_COMP) of the request's own length, at
 * most 64 bytes, zero-padded.
 */
#ifndef VIRIDIAN_WIRE_STORAGE_H
#define VIRIDIAN_WIRE_STORAGE_H

#include "types.h"

/* Protocol versions: major << 8 | minor, in 16 bits. */
#define VMSTOR_PROTO_VERSION(major, minor) \
	((__u16)((((major) & 0xff) << 8) | ((minor) & 0xff)))
#define VMSTOR_PROTO_VERSION_MAJOR(v)	(((v) >> 8) & 0xff)
#define VMSTOR_PROTO_VERSION_MINOR(v)	((v) & 0xff)
#define VMSTOR_PROTO_VERSION_WIN6	VMSTOR_PROTO_VERSION(2, 0)
#define VMSTOR_PROTO_VERSION_WIN7	VMSTOR_PROTO_VERSION(4, 2)
#define VMSTOR_PROTO_VERSION_WIN8	VMSTOR_PROTO_VERSION(5, 1)
#define VMSTOR_PROTO_VERSION_WIN8_1	VMSTOR_PROTO_VERSION(6, 0)
#define VMSTOR_PROTO_VERSION_WIN10	VMSTOR_PROTO_VERSION(6, 2)

/* Operations (vstor_packet.operation). */
#define VSTOR_OPERATION_COMPLETE_IO		1
#define VSTOR_OPERATION_REMOVE_DEVICE		2
#define VSTOR_OPERATION_EXECUTE_SRB		3
#define VSTOR_OPERATION_RESET_LUN		4
#define VSTOR_OPERATION_RESET_ADAPTER		5
#define VSTOR_OPERATION_RESET_BUS		6
#define VSTOR_OPERATION_BEGIN_INITIALIZATION	7
#define VSTOR_OPERATION_END_INITIALIZATION	8
#define VSTOR_OPERATION_QUERY_PROTOCOL_VERSION	9
#define VSTOR_OPERATION_QUERY_PROPERTIES	10
#define VSTOR_OPERATION_ENUMERATE_BUS		11
#define VSTOR_OPERATION_FCHBA_DATA		12
#define VSTOR_OPERATION_CREATE_SUB_CHANNELS	13
/* Defined by newer hosts; neither side here sends it. */
#define VSTOR_OPERATION_EVENT_NOTIFICATION	14
#define VSTOR_OPERATION_MAXIMUM			14

/* vstor_packet.flags */
#define VSTOR_FLAG_REQUEST_COMPLETION		0x1u

/*
 * vstor_packet.status: an NTSTATUS. Zero is success; a host refusing a
 * protocol version answers REVISION_MISMATCH.
 */
#define VSTOR_STATUS_SUCCESS			0x00000000u
#define VSTOR_STATUS_BUFFER_OVERFLOW		0x80000005u
#define VSTOR_STATUS_DEVICE_BUSY		0x80000011u
#define VSTOR_STATUS_UNSUCCESSFUL		0xc0000001u
#define VSTOR_STATUS_INVALID_PARAMETER		0xc000000du
#define VSTOR_STATUS_INVALID_DEVICE_REQUEST	0xc0000010u
#define VSTOR_STATUS_REVISION_MISMATCH		0xc0000059u
#define VSTOR_STATUS_DEVICE_NOT_CONNECTED	0xc000009du
#define VSTOR_STATUS_IO_TIMEOUT			0xc00000b5u
#define VSTOR_STATUS_DEVICE_DOES_NOT_EXIST	0xc00000c0u
#define VSTOR_STATUS_CANCELLED			0xc0000120u
#define VSTOR_STATUS_INVALID_DEVICE_STATE	0xc0000184u
#define VSTOR_STATUS_IO_DEVICE_ERROR		0xc0000185u

/*
 * SRB status (vmscsi_request.srb_status): the two high bits are flags, the
 * low six an integer code.
 */
#define SRB_STATUS_AUTOSENSE_VALID		0x80	/* sense_data is valid */
#define SRB_STATUS_QUEUE_FROZEN			0x40
#define SRB_STATUS_FLAG_MASK			0xc0
#define SRB_STATUS_CODE_MASK			0x3f

#define SRB_STATUS_PENDING			0x00
#define SRB_STATUS_SUCCESS			0x01
#define SRB_STATUS_ABORTED			0x02
#define SRB_STATUS_ABORT_FAILED			0x03
#define SRB_STATUS_ERROR			0x04
#define SRB_STATUS_BUSY				0x05
#define SRB_STATUS_INVALID_REQUEST		0x06
#define SRB_STATUS_INVALID_PATH_ID		0x07
#define SRB_STATUS_NO_DEVICE			0x08
#define SRB_STATUS_TIMEOUT			0x09
#define SRB_STATUS_SELECTION_TIMEOUT		0x0a
#define SRB_STATUS_COMMAND_TIMEOUT		0x0b
#define SRB_STATUS_MESSAGE_REJECTED		0x0d
#define SRB_STATUS_BUS_RESET			0x0e
#define SRB_STATUS_PARITY_ERROR			0x0f
#define SRB_STATUS_REQUEST_SENSE_FAILED		0x10
#define SRB_STATUS_NO_HBA			0x11
#define SRB_STATUS_DATA_OVERRUN			0x12	/* also underrun */
#define SRB_STATUS_UNEXPECTED_BUS_FREE		0x13
#define SRB_STATUS_PHASE_SEQUENCE_FAILURE	0x14
#define SRB_STATUS_BAD_SRB_BLOCK_LENGTH		0x15
#define SRB_STATUS_REQUEST_FLUSHED		0x16
#define SRB_STATUS_INVALID_LUN			0x20
#define SRB_STATUS_INVALID_TARGET_ID		0x21
#define SRB_STATUS_BAD_FUNCTION			0x22
#define SRB_STATUS_ERROR_RECOVERY		0x23
#define SRB_STATUS_NOT_POWERED			0x24
#define SRB_STATUS_LINK_DOWN			0x25

static inline __u8 srb_status_code(__u8 srb_status)
{
	return srb_status & SRB_STATUS_CODE_MASK;
}

/* SRB flags (vmscsi_request.srb_flags), Windows 8 extension. */
#define SRB_FLAGS_QUEUE_ACTION_ENABLE		0x00000002u
#define SRB_FLAGS_DISABLE_DISCONNECT		0x00000004u
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER	0x00000008u
#define SRB_FLAGS_BYPASS_FROZEN_QUEUE		0x00000010u
#define SRB_FLAGS_DISABLE_AUTOSENSE		0x00000020u
#define SRB_FLAGS_DATA_IN			0x00000040u
#define SRB_FLAGS_DATA_OUT			0x00000080u
#define SRB_FLAGS_NO_DATA_TRANSFER		0x00000000u
#define SRB_FLAGS_UNSPECIFIED_DIRECTION \
	(SRB_FLAGS_DATA_IN | SRB_FLAGS_DATA_OUT)
#define SRB_FLAGS_NO_QUEUE_FREEZE		0x00000100u
#define SRB_FLAGS_ADAPTER_CACHE_ENABLE		0x00000200u
#define SRB_FLAGS_FREE_SENSE_BUFFER		0x00000400u
#define SRB_FLAGS_D3_PROCESSING			0x00000800u
#define SRB_FLAGS_IS_ACTIVE			0x00010000u
#define SRB_FLAGS_ALLOCATED_FROM_ZONE		0x00020000u
#define SRB_FLAGS_SGLIST_FROM_POOL		0x00040000u
#define SRB_FLAGS_BYPASS_LOCKED_QUEUE		0x00080000u
#define SRB_FLAGS_NO_KEEP_AWAKE			0x00100000u
#define SRB_FLAGS_PORT_DRIVER_ALLOCSENSE	0x00200000u
#define SRB_FLAGS_PORT_DRIVER_SENSEHASPORT	0x00400000u
#define SRB_FLAGS_DONT_START_NEXT_PACKET	0x00800000u
#define SRB_FLAGS_PORT_DRIVER_RESERVED		0x0f000000u
#define SRB_FLAGS_CLASS_DRIVER_RESERVED		0xf0000000u

/* queue_tag / queue_action with SRB_FLAGS_QUEUE_ACTION_ENABLE. */
#define SRB_QUEUE_TAG_UNTAGGED			0xff
#define SRB_SIMPLE_TAG_REQUEST			0x20
#define SRB_HEAD_OF_QUEUE_TAG_REQUEST		0x21
#define SRB_ORDERED_QUEUE_TAG_REQUEST		0x22

/* vmscsi_request.data_in: the direction of the data phase. */
#define VMSCSI_DATA_OUT				0	/* write: guest to device */
#define VMSCSI_DATA_IN				1	/* read: device to guest */
#define VMSCSI_DATA_UNKNOWN			2	/* no data */

#define VMSCSI_CDB_SIZE				16
#define VMSCSI_SENSE_SIZE			20	/* from protocol 5.1 on */
#define VMSCSI_SENSE_SIZE_PRE_WIN8		18	/* before 5.1 */
#define VMSCSI_CDB_SENSE_AREA			20

/*
 * One SCSI request (EXECUTE_SRB) and, in the host's COMPLETE_IO answer, its
 * result. cdb and sense_data share the area: the host overwrites the CDB
 * with sense data when srb_status has SRB_STATUS_AUTOSENSE_VALID.
 * data_transfer_length is the buffer length going out and the bytes moved
 * coming back.
 */
struct vmscsi_request {
	__u16 length;			/* vstor_srb_size() of the version */
	__u8 srb_status;		/* SRB_STATUS_*, host to guest */
	__u8 scsi_status;		/* SAM status byte, host to guest */

	__u8 port_number;		/* HBA number; hosts ignore it */
	__u8 path_id;			/* SCSI channel */
	__u8 target_id;
	__u8 lun;

	__u8 cdb_length;
	__u8 sense_info_length;		/* buffer going out, valid bytes back */
	__u8 data_in;			/* VMSCSI_DATA_* */
	__u8 reserved;

	__u32 data_transfer_length;

	union {
		__u8 cdb[VMSCSI_CDB_SIZE];
		__u8 sense_data[VMSCSI_SENSE_SIZE];
		__u8 cdb_sense_area[VMSCSI_CDB_SENSE_AREA];
	};

	/* The Windows 8 extension: absent before protocol 5.1. */
	__u16 reserve;
	__u8 queue_tag;
	__u8 queue_action;
	__u32 srb_flags;		/* SRB_FLAGS_* */
	__u32 time_out_value;		/* seconds */
	__u32 queue_sort_key;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmscsi_request, 52);

#define VMSCSI_REQUEST_SIZE_PRE_WIN8	36u	/* without the extension */
#define VMSCSI_REQUEST_SIZE		52u
#define VMSCSI_WIN8_EXTENSION_SIZE \
	(VMSCSI_REQUEST_SIZE - VMSCSI_REQUEST_SIZE_PRE_WIN8)

/* QUERY_PROTOCOL_VERSION: the guest proposes, status says yes or no. */
struct vmstorage_protocol_version {
	__u16 major_minor;		/* VMSTOR_PROTO_VERSION_* */
	__u16 revision;			/* Windows build bookkeeping; 0 */
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmstorage_protocol_version, 4);

/* vmstorage_channel_properties.flags */
#define STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL	0x1u

/*
 * QUERY_PROPERTIES answer. The guest also passes a zeroed copy as the
 * channel-open user data of every storage channel.
 */
struct vmstorage_channel_properties {
	__u32 reserved;
	__u16 max_channel_count;	/* sub-channels the host can add */
	__u16 reserved1;
	__u32 flags;			/* STORAGE_CHANNEL_* */
	__u32 max_transfer_bytes;	/* largest data buffer of one SRB */
	__u64 reserved2;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmstorage_channel_properties, 24);

/*
 * FCHBA_DATA (synthetic FC only): the HBA's world-wide names, big-endian
 * as on the FC wire; primary_active selects the active pair.
 */
#define VMSTOR_WWN_SIZE			8

struct vmstorage_fc_wwn {
	__u8 primary_active;		/* nonzero: the primary pair is active */
	__u8 reserved1[3];
	__u8 primary_port_wwn[VMSTOR_WWN_SIZE];
	__u8 primary_node_wwn[VMSTOR_WWN_SIZE];
	__u8 secondary_port_wwn[VMSTOR_WWN_SIZE];
	__u8 secondary_node_wwn[VMSTOR_WWN_SIZE];
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmstorage_fc_wwn, 36);

struct vstor_packet {
	__u32 operation;		/* VSTOR_OPERATION_* */
	__u32 flags;			/* VSTOR_FLAG_* */
	__u32 status;			/* VSTOR_STATUS_*, host to guest */
	union {
		struct vmscsi_request vm_srb;
		struct vmstorage_channel_properties properties;
		struct vmstorage_protocol_version version;
		struct vmstorage_fc_wwn wwn;
		__u16 sub_channel_count;	/* CREATE_SUB_CHANNELS */
		__u8 buffer[VMSCSI_REQUEST_SIZE];
	};
} __packed;
VIRIDIAN_WIRE_SIZE(struct vstor_packet, 64);

#define VSTOR_PACKET_HEADER_SIZE	12u
#define VSTOR_PACKET_SIZE		64u
#define VSTOR_PACKET_SIZE_PRE_WIN8	(VSTOR_PACKET_SIZE - VMSCSI_WIN8_EXTENSION_SIZE)

/* True when the version knows the Windows 8 extension (5.1 and later). */
static inline bool vstor_version_has_win8_ext(__u16 version)
{
	return version >= VMSTOR_PROTO_VERSION_WIN8;
}

/*
 * Bytes of every vstor packet, in either direction, once this version is
 * negotiated. Before negotiation completes (BEGIN_INITIALIZATION and the
 * QUERY_PROTOCOL_VERSION exchange itself) the guest sends the full 64
 * bytes; a host must accept 48 or more there.
 */
static inline __u32 vstor_packet_size(__u16 version)
{
	return vstor_version_has_win8_ext(version) ? VSTOR_PACKET_SIZE :
						     VSTOR_PACKET_SIZE_PRE_WIN8;
}

/* vmscsi_request.length for this version. */
static inline __u16 vstor_srb_size(__u16 version)
{
	return vstor_version_has_win8_ext(version) ? VMSCSI_REQUEST_SIZE :
						     VMSCSI_REQUEST_SIZE_PRE_WIN8;
}

/* Sense bytes the host may return (vmscsi_request.sense_info_length). */
static inline __u8 vstor_sense_size(__u16 version)
{
	return vstor_version_has_win8_ext(version) ? VMSCSI_SENSE_SIZE :
						     VMSCSI_SENSE_SIZE_PRE_WIN8;
}

/*
 * Addressing limits the guest scans. A SCSI controller: up to 8 channels
 * (path_id), 2 targets, 255 LUNs per target (Hyper-V itself attaches up to
 * 64 disks as target 0, LUNs 0-63). Synthetic FC: up to 128 targets.
 * An IDE-accelerator channel carries a single disk: its target is bytes 4-5
 * of the offer's instance GUID (little endian), its LUN 0.
 */
#define VMSTOR_SCSI_MAX_CHANNELS	8
#define VMSTOR_SCSI_MAX_TARGETS		2
#define VMSTOR_SCSI_MAX_LUNS		255
#define VMSTOR_FC_MAX_CHANNELS		8
#define VMSTOR_FC_MAX_TARGETS		128
#define VMSTOR_FC_MAX_LUNS		255
#define VMSTOR_IDE_MAX_LUNS		64

static inline __u16 vmstor_ide_target(const guid_t *instance)
{
	return (__u16)(instance->b[4] | (instance->b[5] << 8));
}

/* Synthetic FC transfers are capped here whatever the host reports. */
#define VMSTOR_FC_MAX_TRANSFER_BYTES	(512u * 1024u)

/*
 * Rings. Each direction of every storage channel (primary and
 * sub-channels) is this many bytes: the 4 KiB control page and 128 KiB of
 * data. An EXECUTE_SRB of N pages uses vmbus_ring_packet_footprint(24 + 8 +
 * 8 * N + vstor_packet_size()) bytes of the guest-to-host ring.
 */
#define VMSTOR_RING_DATA_BYTES		(128u * 1024u)
#define VMSTOR_RING_BYTES		(VMSTOR_RING_DATA_BYTES + 4096u)

/* The SCSI sense that tells a guest a LUN's capacity changed: 06/2a/09. */
#define VMSTOR_SENSE_KEY_UNIT_ATTENTION		0x06
#define VMSTOR_ASC_PARAMETERS_CHANGED		0x2a
#define VMSTOR_ASCQ_CAPACITY_DATA_CHANGED	0x09

#endif /* VIRIDIAN_WIRE_STORAGE_H */
