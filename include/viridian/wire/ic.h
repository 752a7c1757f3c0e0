/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Integration components (ICs): the framing every IC channel shares, version
 * negotiation, and the heartbeat, shutdown and time-sync messages. Shared by
 * the guest IC drivers and host-sim's IC VSPs.
 *
 * Every IC packet payload is a pipe header, an IC message header, then the
 * message. The host always sends the request; the guest answers in place by
 * setting ICMSGHDRFLAG_RESPONSE and sending the same buffer back.
 */
#ifndef VIRIDIAN_WIRE_IC_H
#define VIRIDIAN_WIRE_IC_H

#include "types.h"

#define IC_VERSION(major, minor)	(((__u32)(major) << 16) | (minor))

struct ic_version {
	__u16 major;
	__u16 minor;
} __packed;

struct vmbus_pipe_header {
	__u32 flags;
	__u32 msgsize;
} __packed;
VIRIDIAN_WIRE_SIZE(struct vmbus_pipe_header, 8);

#define ICMSGTYPE_NEGOTIATE		0
#define ICMSGTYPE_HEARTBEAT		1
#define ICMSGTYPE_KVPEXCHANGE		2
#define ICMSGTYPE_SHUTDOWN		3
#define ICMSGTYPE_TIMESYNC		4
#define ICMSGTYPE_VSS			5
#define ICMSGTYPE_FCOPY			7

#define ICMSGHDRFLAG_TRANSACTION	1
#define ICMSGHDRFLAG_REQUEST		2
#define ICMSGHDRFLAG_RESPONSE		4

/* HRESULT-style status values. */
#define IC_S_OK				0x00000000u
#define IC_E_FAIL			0x80004005u
#define IC_S_CONT			0x80070103u
#define IC_E_INVALIDARG			0x80070057u

struct icmsg_hdr {
	struct ic_version icverframe;
	__u16 icmsgtype;
	struct ic_version icvermsg;
	__u16 icmsgsize;		/* bytes after this header */
	__u32 status;
	__u8 ictransaction_id;
	__u8 icflags;
	__u8 reserved[2];
} __packed;
VIRIDIAN_WIRE_SIZE(struct icmsg_hdr, 20);

#define IC_HEADER_SIZE \
	(sizeof(struct vmbus_pipe_header) + sizeof(struct icmsg_hdr))

/*
 * Negotiation: the host lists icframe_vercnt framework versions, then
 * icmsg_vercnt message versions; the answer holds one of each (or none, with
 * IC_E_FAIL).
 */
struct icmsg_negotiate {
	__u16 icframe_vercnt;
	__u16 icmsg_vercnt;
	__u32 reserved;
	struct ic_version icversion_data[];
} __packed;
VIRIDIAN_WIRE_SIZE(struct icmsg_negotiate, 8);

#define IC_NEGOTIATE_MAX_VERSIONS	16

/* Framework versions. */
#define IC_FRAMEWORK_VERSION_1		IC_VERSION(1, 0)
#define IC_FRAMEWORK_VERSION_3		IC_VERSION(3, 0)

/* Heartbeat: the guest answers each sequence number. */
#define IC_HEARTBEAT_VERSION_1		IC_VERSION(1, 0)
#define IC_HEARTBEAT_VERSION_3		IC_VERSION(3, 0)

struct ic_heartbeat_msg {
	__u64 seq_num;
	__u32 reserved[8];
} __packed;
VIRIDIAN_WIRE_SIZE(struct ic_heartbeat_msg, 40);

/* Shutdown. */
#define IC_SHUTDOWN_VERSION_1		IC_VERSION(1, 0)
#define IC_SHUTDOWN_VERSION_3		IC_VERSION(3, 0)
#define IC_SHUTDOWN_VERSION_3_1		IC_VERSION(3, 1)
#define IC_SHUTDOWN_VERSION_3_2		IC_VERSION(3, 2)

#define IC_SHUTDOWN_FLAG_FORCE		0x1	/* with power off or reboot */
#define IC_SHUTDOWN_FLAG_REBOOT		0x2
#define IC_SHUTDOWN_FLAG_HIBERNATE	0x4

#define IC_SHUTDOWN_MESSAGE_BYTES	2048

struct ic_shutdown_msg {
	__u32 reason_code;
	__u32 timeout_seconds;
	__u32 flags;
	__u8 display_message[IC_SHUTDOWN_MESSAGE_BYTES];
} __packed;
VIRIDIAN_WIRE_SIZE(struct ic_shutdown_msg, 12 + IC_SHUTDOWN_MESSAGE_BYTES);

/* Time sync. Times are 100 ns units since 1601-01-01 (Windows epoch). */
#define IC_TIMESYNC_VERSION_1		IC_VERSION(1, 0)
#define IC_TIMESYNC_VERSION_3		IC_VERSION(3, 0)
#define IC_TIMESYNC_VERSION_4		IC_VERSION(4, 0)

#define IC_TIMESYNC_FLAG_PROBE		0
#define IC_TIMESYNC_FLAG_SYNC		1
#define IC_TIMESYNC_FLAG_SAMPLE		2

/* 100 ns units between 1601-01-01 and 1970-01-01. */
#define IC_WINDOWS_EPOCH_DELTA		116444736000000000ull

struct ic_timesync_msg {
	__u64 parenttime;
	__u64 childtime;
	__u64 roundtriptime;
	__u8 flags;
} __packed;
VIRIDIAN_WIRE_SIZE(struct ic_timesync_msg, 25);

/* From version 4: the host time and the VM reference time it was read at. */
struct ic_timesync_ref_msg {
	__u64 parenttime;
	__u64 vmreferencetime;
	__u8 flags;
	__u8 leapflags;
	__u8 stratum;
	__u8 reserved[3];
} __packed;
VIRIDIAN_WIRE_SIZE(struct ic_timesync_ref_msg, 22);

/* Ring size of every IC channel, each direction. */
#define IC_RING_SIZE			(4 * 4096)
/* Largest IC packet payload (KVP is the largest). */
#define IC_MAX_PACKET_SIZE		(3 * 4096)

#endif /* VIRIDIAN_WIRE_IC_H */
