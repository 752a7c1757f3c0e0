// SPDX-License-Identifier: GPL-2.0
/*
 * viridian_ic.ko: the integration-component framework and module glue.
 *
 * Every IC channel carries the same conversation: the host sends a request
 * (first a version negotiation, then messages of the service's type) and the
 * guest answers in place, in the same buffer, with the same transaction ID.
 * This file owns that conversation; the services only see checked messages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "ic_framework.h"

int viridian_ic_send(struct viridian_ic_device *icd, const void *packet,
		     u32 len, u64 trans_id)
{
	int ret;

	ret = viridian_channel_send(icd->channel, packet, len, trans_id,
				    VM_PKT_DATA_INBAND, 0);
	/*
	 * The host sends one request at a time and reads our answers, so a
	 * full ring means it stopped reading; the answer is lost either way.
	 */
	if (ret && ret != -ENODEV)
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "%s IC: cannot send answer: %d\n",
				    icd->service->name, ret);
	return ret;
}

static u32 ic_negotiate(struct viridian_ic_device *icd,
			struct viridian_ic_message *msg, u32 len)
{
	const struct viridian_ic_service *service = icd->service;
	u32 fw_version = 0, msg_version = 0;
	int ret;

	ret = viridian_ic_negotiate_select(msg->body, msg->body_len,
					   viridian_ic_framework_versions,
					   viridian_ic_nr_framework_versions,
					   service->versions,
					   service->nr_versions,
					   &fw_version, &msg_version);
	if (ret) {
		dev_warn_ratelimited(viridian_ic_dev(icd),
				     "%s IC: version negotiation failed: %s\n",
				     service->name,
				     ret == -EBADMSG ? "malformed request" :
						       "no common version");
		icd->message_version = 0;
	} else if (fw_version != icd->framework_version ||
		   msg_version != icd->message_version) {
		dev_info(viridian_ic_dev(icd),
			 "%s IC: framework %u.%u, message version %u.%u\n",
			 service->name, fw_version >> 16, fw_version & 0xffff,
			 msg_version >> 16, msg_version & 0xffff);
		icd->framework_version = fw_version;
		icd->message_version = msg_version;
	}

	return viridian_ic_negotiate_answer(icd->buf, len, IC_MAX_PACKET_SIZE,
					    ret == 0, fw_version, msg_version);
}

static void ic_handle_packet(struct viridian_ic_device *icd, u32 len,
			     u64 trans_id)
{
	const struct viridian_ic_service *service = icd->service;
	struct viridian_ic_message msg;
	bool service_message = false;
	u32 answer_len = len;
	int ret;

	ret = viridian_ic_parse(icd->buf, len, &msg);
	if (ret == -EBADMSG) {
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "%s IC: %u-byte packet has no IC header\n",
				    service->name, len);
		return;
	}
	if (msg.hdr->icflags & ICMSGHDRFLAG_RESPONSE) {
		/* We never ask, so the host has nothing to answer. */
		dev_warn_ratelimited(viridian_ic_dev(icd),
				     "%s IC: unsolicited response dropped\n",
				     service->name);
		return;
	}

	if (ret) {
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "%s IC: message size %u exceeds the %u-byte packet\n",
				    service->name, msg.hdr->icmsgsize, len);
		viridian_ic_mark_response(msg.hdr, IC_E_FAIL);
	} else if (msg.hdr->icmsgtype == ICMSGTYPE_NEGOTIATE) {
		answer_len = ic_negotiate(icd, &msg, len);
		if (!answer_len)
			return;
	} else if (msg.hdr->icmsgtype == service->msgtype &&
		   icd->message_version) {
		if (service->handle(icd, &msg) == VIRIDIAN_IC_REPLY_LATER)
			return;
		service_message = true;
	} else {
		dev_warn_ratelimited(viridian_ic_dev(icd),
				     "%s IC: unexpected message type %u%s\n",
				     service->name, msg.hdr->icmsgtype,
				     icd->message_version ? "" : " before negotiation");
		viridian_ic_mark_response(msg.hdr, IC_E_FAIL);
	}

	viridian_ic_send(icd, icd->buf, answer_len, trans_id);

	/* Actions such as a power off start only once the host has its answer. */
	if (service_message && service->after_reply)
		service->after_reply(icd);
}

/* Take a packet too large for buf out of the ring, so the ones after it flow. */
static int ic_discard_oversized(struct viridian_ic_device *icd, u32 needed)
{
	u64 trans_id;
	void *scratch;
	u32 len;
	int ret;

	dev_err_ratelimited(viridian_ic_dev(icd),
			    "%s IC: dropping %u-byte packet, limit %u\n",
			    icd->service->name, needed, IC_MAX_PACKET_SIZE);
	if (needed > VMBUS_MAX_PACKET_SIZE)
		return -EMSGSIZE;

	scratch = kmalloc(needed, GFP_ATOMIC);
	if (!scratch)
		return -ENOMEM;
	ret = viridian_channel_recv(icd->channel, scratch, needed, &len,
				    &trans_id);
	kfree(scratch);
	return ret;
}

static void ic_on_channel_event(void *context)
{
	struct viridian_ic_device *icd = context;
	u64 trans_id;
	u32 len;
	int ret;

	spin_lock(&icd->lock);
	for (;;) {
		ret = viridian_channel_recv(icd->channel, icd->buf,
					    IC_MAX_PACKET_SIZE, &len, &trans_id);
		if (ret == -ENOBUFS)
			ret = ic_discard_oversized(icd, len);
		else if (!ret)
			ic_handle_packet(icd, len, trans_id);

		if (ret)
			break;
	}
	spin_unlock(&icd->lock);

	if (ret != -EAGAIN && ret != -ENODEV)
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "%s IC: receive failed: %d\n",
				    icd->service->name, ret);
}

int viridian_ic_probe(struct viridian_device *vdev,
		      const struct hv_vmbus_device_id *id)
{
	struct viridian_driver *drv = to_viridian_driver(vdev->dev.driver);
	struct viridian_ic_device *icd;
	int ret;

	icd = kzalloc(sizeof(*icd), GFP_KERNEL);
	if (!icd)
		return -ENOMEM;
	icd->buf = kmalloc(IC_MAX_PACKET_SIZE, GFP_KERNEL);
	if (!icd->buf) {
		ret = -ENOMEM;
		goto free_icd;
	}

	/*
	 * The service comes from the driver rather than id->driver_data, so
	 * a device bound through driver_override works too.
	 */
	icd->service = container_of(drv, struct viridian_ic_service, driver);
	icd->vdev = vdev;
	icd->channel = vdev->channel;
	spin_lock_init(&icd->lock);
	viridian_set_drvdata(vdev, icd);

	if (icd->service->init) {
		ret = icd->service->init(icd);
		if (ret)
			goto free_buf;
	}

	ret = viridian_channel_open(icd->channel, IC_RING_SIZE, IC_RING_SIZE,
				    NULL, 0, ic_on_channel_event, icd);
	if (ret) {
		dev_err(&vdev->dev, "%s IC: cannot open channel: %d\n",
			icd->service->name, ret);
		goto deinit;
	}
	return 0;

deinit:
	if (icd->service->deinit)
		icd->service->deinit(icd);
free_buf:
	viridian_set_drvdata(vdev, NULL);
	kfree(icd->buf);
free_icd:
	kfree(icd);
	return ret;
}

void viridian_ic_remove(struct viridian_device *vdev)
{
	struct viridian_ic_device *icd = viridian_get_drvdata(vdev);

	/* Close first: afterwards no callback can queue work for deinit to miss. */
	viridian_channel_close(icd->channel);
	if (icd->service->deinit)
		icd->service->deinit(icd);
	viridian_set_drvdata(vdev, NULL);
	kfree(icd->buf);
	kfree(icd);
}

static struct viridian_ic_service *const viridian_ic_services[] = {
	&viridian_ic_heartbeat_service,
	&viridian_ic_shutdown_service,
	&viridian_ic_timesync_service,
};

static int __init viridian_ic_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(viridian_ic_services); i++) {
		ret = viridian_driver_register(&viridian_ic_services[i]->driver);
		if (ret) {
			pr_err("cannot register the %s driver: %d\n",
			       viridian_ic_services[i]->name, ret);
			goto unregister;
		}
	}
	return 0;

unregister:
	while (i--)
		viridian_driver_unregister(&viridian_ic_services[i]->driver);
	return ret;
}

static void __exit viridian_ic_exit(void)
{
	unsigned int i = ARRAY_SIZE(viridian_ic_services);

	while (i--)
		viridian_driver_unregister(&viridian_ic_services[i]->driver);
}

module_init(viridian_ic_init);
module_exit(viridian_ic_exit);

MODULE_DESCRIPTION("Viridian Hyper-V integration components (heartbeat, shutdown, time sync)");
MODULE_LICENSE("GPL");
