// SPDX-License-Identifier: GPL-2.0
/*
 * Heartbeat IC: the host polls every few seconds and takes a missing answer
 * as a hung guest, so answering must never wait on anything.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>

#include "ic_framework.h"

static const u32 ic_heartbeat_versions[] = {
	IC_HEARTBEAT_VERSION_3,
	IC_HEARTBEAT_VERSION_1,
};

static enum viridian_ic_disposition
ic_heartbeat_handle(struct viridian_ic_device *icd,
		    struct viridian_ic_message *msg)
{
	if (viridian_ic_heartbeat_answer(msg->body, msg->body_len)) {
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "heartbeat IC: %u-byte message too short\n",
				    msg->body_len);
		viridian_ic_mark_response(msg->hdr, IC_E_FAIL);
	} else {
		viridian_ic_mark_response(msg->hdr, IC_S_OK);
	}
	return VIRIDIAN_IC_REPLY;
}

static const struct hv_vmbus_device_id ic_heartbeat_ids[] = {
	{ .guid = VMBUS_CLASS_HEARTBEAT },
	{ }
};
MODULE_DEVICE_TABLE(vmbus, ic_heartbeat_ids);

struct viridian_ic_service viridian_ic_heartbeat_service = {
	.driver = {
		.name = "viridian_ic_heartbeat",
		.id_table = ic_heartbeat_ids,
		.probe = viridian_ic_probe,
		.remove = viridian_ic_remove,
		.driver = {
			.probe_type = PROBE_PREFER_ASYNCHRONOUS,
		},
	},
	.name = "heartbeat",
	.msgtype = ICMSGTYPE_HEARTBEAT,
	.versions = ic_heartbeat_versions,
	.nr_versions = ARRAY_SIZE(ic_heartbeat_versions),
	.handle = ic_heartbeat_handle,
};
