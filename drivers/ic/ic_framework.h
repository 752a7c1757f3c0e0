/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The IC framework inside viridian_ic.ko: one viridian_driver per
 * integration component, all sharing the channel handling, the packet
 * checks and version negotiation. A service (heartbeat, shutdown, time sync;
 * later KVP, VSS, file copy) supplies only its ops.
 */
#ifndef VIRIDIAN_IC_FRAMEWORK_H
#define VIRIDIAN_IC_FRAMEWORK_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <viridian/vmbus.h>

#include "ic_protocol.h"

struct viridian_ic_device;

enum viridian_ic_disposition {
	/* The handler set hdr->status; send the buffer back now. */
	VIRIDIAN_IC_REPLY,
	/*
	 * The service answers later (e.g. after a daemon replied) with its
	 * own copy of the packet and viridian_ic_send().
	 */
	VIRIDIAN_IC_REPLY_LATER,
};

struct viridian_ic_service {
	struct viridian_driver driver;
	const char *name;		/* for the log: "heartbeat" */
	u16 msgtype;			/* ICMSGTYPE_* this service handles */
	const u32 *versions;		/* message versions, any order */
	unsigned int nr_versions;

	/* Process context, before the channel opens: set up icd->priv. */
	int (*init)(struct viridian_ic_device *icd);
	/* Process context, after the channel closed: no callback runs now. */
	void (*deinit)(struct viridian_ic_device *icd);
	/*
	 * Channel callback (softirq): one negotiated message of msgtype,
	 * body bounds already checked against the packet.
	 */
	enum viridian_ic_disposition (*handle)(struct viridian_ic_device *icd,
					       struct viridian_ic_message *msg);
	/* Optional, channel callback: runs once the answer has been sent. */
	void (*after_reply)(struct viridian_ic_device *icd);
};

struct viridian_ic_device {
	struct viridian_device *vdev;
	struct viridian_channel *channel;
	struct viridian_ic_service *service;
	/* Serialises the channel callback's use of buf. */
	spinlock_t lock;
	u8 *buf;			/* IC_MAX_PACKET_SIZE bytes */
	u32 framework_version;
	u32 message_version;		/* 0 until negotiated */
	void *priv;			/* the service's own state */
};

static inline struct device *viridian_ic_dev(struct viridian_ic_device *icd)
{
	return &icd->vdev->dev;
}

/* Send an answer that is already marked as a response. Any context. */
int viridian_ic_send(struct viridian_ic_device *icd, const void *packet,
		     u32 len, u64 trans_id);

int viridian_ic_probe(struct viridian_device *vdev,
		      const struct hv_vmbus_device_id *id);
void viridian_ic_remove(struct viridian_device *vdev);

/* Each service, defined in its own file. */
extern struct viridian_ic_service viridian_ic_heartbeat_service;
extern struct viridian_ic_service viridian_ic_shutdown_service;
extern struct viridian_ic_service viridian_ic_timesync_service;

#endif /* VIRIDIAN_IC_FRAMEWORK_H */
