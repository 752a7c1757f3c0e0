// SPDX-License-Identifier: GPL-2.0
/*
 * viridian_storvsc: synthetic SCSI storage over VMBus.
 *
 * One SCSI host per synthetic SCSI controller, IDE-accelerator channel or
 * synthetic FC HBA. SRBs go to the host as GPA-direct packets that name the
 * guest pages of the request's buffer, so data never passes a bounce
 * buffer. Each blk-mq hardware queue maps to one VMBus channel (the primary
 * or a sub-channel).
 *
 * Request lifetime. Every packet that asks for a completion carries an ID
 * from viridian_request_id_get(); a completion is accepted only if
 * viridian_request_id_put() maps its ID back to a live request. The
 * channel's lock covers getting an ID and sending, releasing an ID on
 * completion and revoking an ID the host never answered, so a request is
 * finished exactly once whatever the host sends, and a request whose ID is
 * revoked (after a timeout or a reset) can be reused safely.
 */
#include <linux/atomic.h>
#include <linux/blk-mq.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_devinfo.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_transport_fc.h>
#include <viridian/vmbus.h>
#include <viridian/wire/storage.h>

#include "storvsc_protocol.h"

#define STORVSC_FC	IS_ENABLED(CONFIG_SCSI_FC_ATTRS)

/* Keep this share of every ring free before preferring another channel. */
#define STORVSC_RING_LOWATER_PERCENT	10
/* Queue depth is sized for 128 KiB requests, unaligned: 33 pages. */
#define STORVSC_TYPICAL_PFNS		33
/* PFNs kept in each command; larger requests allocate their range. */
#define STORVSC_INLINE_PFNS		34
/* Receive buffer: the largest vstor packet, with room for host padding. */
#define STORVSC_RX_BYTES		(2 * VSTOR_PACKET_SIZE)
/* Used when the host reports no sensible maximum transfer. */
#define STORVSC_FALLBACK_TRANSFER	(512u * 1024u)
#define STORVSC_DRAIN_TIMEOUT_S		30
#define STORVSC_TUR_TIMEOUT_S		30
/* How often waits for the host look whether it rescinded the controller. */
#define STORVSC_RESCIND_POLL		(HZ / 10)
#define STORVSC_MSFT_VENDOR		"Msft"

static unsigned int io_timeout = 180;
module_param(io_timeout, uint, 0444);
MODULE_PARM_DESC(io_timeout, "SCSI command timeout in seconds (default 180)");

static unsigned int init_timeout = 60;
module_param(init_timeout, uint, 0444);
MODULE_PARM_DESC(init_timeout,
		 "Seconds to wait for each protocol set-up step (default 60)");

static unsigned int max_queues;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues,
		 "Most channels (hardware queues) per controller; 0: one per CPU");

#define STORVSC_LOG_LEVEL_ERROR		1
#define STORVSC_LOG_LEVEL_WARN		2
static unsigned int log_level = STORVSC_LOG_LEVEL_ERROR;
module_param(log_level, uint, 0644);
MODULE_PARM_DESC(log_level,
		 "Failed-command logging: 0 none, 1 errors (default), 2 also warnings");

enum storvsc_kind {
	STORVSC_KIND_SCSI,
	STORVSC_KIND_IDE,
	STORVSC_KIND_FC,
};

enum storvsc_req_kind {
	STORVSC_REQ_IO = 1,
	STORVSC_REQ_CTL,
};

struct storvsc_host;
struct storvsc_chan;

/* What a request ID maps to: the head of a command or a control request. */
struct storvsc_req {
	struct storvsc_chan *chan;	/* where it was sent */
	u64 id;
	u8 kind;			/* enum storvsc_req_kind */
	bool host_owned;		/* ID live at the host; chan->lock */
};

struct storvsc_chan {
	struct viridian_channel *ch;
	struct storvsc_host *host;
	spinlock_t lock;		/* see the top of this file */
	u8 rx[STORVSC_RX_BYTES] __aligned(8);	/* event callback only */
};

/* A set-up or reset request on the primary channel, sent and awaited. */
struct storvsc_ctl {
	struct storvsc_req req;
	struct completion done;
	struct vstor_packet pkt;	/* the request, then the answer */
	u32 answer_len;
};

/* Per-command private data (scsi_host_template.cmd_size). */
struct storvsc_cmd {
	struct storvsc_req req;
	struct scsi_cmnd *scmd;
	u32 length;
	u8 opcode;
	u8 channel;
	u8 target;
	u8 lun;
	union {
		struct vmbus_packet_gpa_range range;
		u8 range_buf[sizeof(struct vmbus_packet_gpa_range) +
			     STORVSC_INLINE_PFNS * sizeof(u64)];
	};
};

struct storvsc_host {
	struct viridian_device *vdev;
	struct Scsi_Host *shost;
	enum storvsc_kind kind;
	u16 ide_target;

	/* From the handshake. */
	u16 version;
	u32 pkt_size;
	u8 sense_size;
	u16 host_max_channels;
	bool host_multichannel;
	u32 host_max_transfer;
	struct storvsc_limits limits;

	/*
	 * chans[0] is the primary; chans[i] the sub-channel with index i,
	 * published once open (release/acquire) and stable until teardown.
	 */
	struct storvsc_chan primary;
	struct storvsc_chan **chans;
	u16 nr_slots;
	bool handler_set;
	struct list_head node;		/* storvsc_hosts */
	bool registered;		/* on storvsc_hosts; its mutex */

	struct storvsc_ctl init_ctl;
	struct storvsc_ctl reset_ctl;

	atomic_t outstanding;		/* SRBs the host holds */
	wait_queue_head_t drain_wq;

	struct workqueue_struct *wq;	/* ordered: scans, rescans, removals */
	struct work_struct scan_work;
	spinlock_t work_lock;		/* guards works_enabled */
	bool works_enabled;

	u64 port_name;
	u64 node_name;
	bool fc_attrs_ready;
#if STORVSC_FC
	struct fc_rport *rport;
#endif
};

struct storvsc_followup_work {
	struct work_struct work;
	struct Scsi_Host *shost;
	enum storvsc_followup what;
	u8 channel;
	u8 target;
	u8 lun;
};

/*
 * Hosts with sub-channels, for the sub-channel handler, which is told only
 * the channel. Holding the mutex while opening a sub-channel keeps teardown
 * from freeing the host under the handler.
 */
static LIST_HEAD(storvsc_hosts);
static DEFINE_MUTEX(storvsc_hosts_lock);

#if STORVSC_FC
static struct scsi_transport_template *storvsc_fc_transport;
#endif

static struct device *storvsc_dev(struct storvsc_host *host)
{
	return &host->vdev->dev;
}

/* Followups and scans. */

static void storvsc_followup_fn(struct work_struct *work)
{
	struct storvsc_followup_work *w =
		container_of(work, struct storvsc_followup_work, work);
	struct scsi_device *sdev;

	sdev = scsi_device_lookup(w->shost, w->channel, w->target, w->lun);
	if (!sdev)
		goto out;

	switch (w->what) {
	case STORVSC_FOLLOWUP_RESCAN_DEVICE:
		sdev_printk(KERN_INFO, sdev, "host reports changed parameters, rescanning\n");
		scsi_rescan_device(sdev);
		break;
	case STORVSC_FOLLOWUP_REMOVE_DEVICE:
		/* Probed again since (a LUN back): the scan decides. */
		if (sdev->sdev_state != SDEV_CREATED) {
			sdev_printk(KERN_INFO, sdev, "host reports the LUN gone, removing\n");
			scsi_remove_device(sdev);
		}
		break;
	default:
		break;
	}
	scsi_device_put(sdev);
out:
	kfree(w);
}

static void storvsc_scan_fn(struct work_struct *work)
{
	struct storvsc_host *host =
		container_of(work, struct storvsc_host, scan_work);
	struct Scsi_Host *shost = host->shost;
	struct scsi_device *sdev;

	/*
	 * The host announces removals only as "the bus changed": a LUN that
	 * left answers TEST UNIT READY with INVALID_LUN, whose completion
	 * queues its removal behind this work.
	 */
	shost_for_each_device(sdev, shost)
		scsi_test_unit_ready(sdev, STORVSC_TUR_TIMEOUT_S * HZ, 1, NULL);

	/* An IDE channel carries its one disk, added at probe. */
	if (host->kind != STORVSC_KIND_IDE)
		scsi_scan_host(shost);
}

static void storvsc_queue_scan(struct storvsc_host *host)
{
	unsigned long flags;

	spin_lock_irqsave(&host->work_lock, flags);
	if (host->works_enabled)
		queue_work(host->wq, &host->scan_work);
	spin_unlock_irqrestore(&host->work_lock, flags);
}

static void storvsc_queue_followup(struct storvsc_host *host,
				   enum storvsc_followup what,
				   const struct storvsc_cmd *cmd)
{
	struct storvsc_followup_work *w;
	unsigned long flags;

	if (what == STORVSC_FOLLOWUP_NONE)
		return;
	if (what == STORVSC_FOLLOWUP_SCAN_HOST) {
		storvsc_queue_scan(host);
		return;
	}

	w = kmalloc(sizeof(*w), GFP_ATOMIC);
	if (!w)
		return;
	INIT_WORK(&w->work, storvsc_followup_fn);
	w->shost = host->shost;
	w->what = what;
	w->channel = cmd->channel;
	w->target = cmd->target;
	w->lun = cmd->lun;

	spin_lock_irqsave(&host->work_lock, flags);
	if (host->works_enabled) {
		queue_work(host->wq, &w->work);
		w = NULL;
	}
	spin_unlock_irqrestore(&host->work_lock, flags);
	kfree(w);
}

static void storvsc_enable_works(struct storvsc_host *host)
{
	spin_lock_irq(&host->work_lock);
	host->works_enabled = true;
	spin_unlock_irq(&host->work_lock);
}

/* After this no work is queued or running; the workqueue is gone. */
static void storvsc_stop_works(struct storvsc_host *host)
{
	spin_lock_irq(&host->work_lock);
	host->works_enabled = false;
	spin_unlock_irq(&host->work_lock);
	if (host->wq) {
		destroy_workqueue(host->wq);
		host->wq = NULL;
	}
}

/* Sending. */

static int storvsc_send_req(struct storvsc_chan *c, struct storvsc_req *req,
			    const struct vstor_packet *pkt, u32 pkt_size,
			    const void *range, u32 range_bytes)
{
	unsigned long flags;
	u64 id;
	int ret;

	spin_lock_irqsave(&c->lock, flags);
	ret = viridian_request_id_get(c->ch, req, &id);
	if (ret)
		goto out;
	req->chan = c;
	req->id = id;
	if (range)
		ret = viridian_channel_send_gpa_direct(c->ch, range, range_bytes,
						       1, pkt, pkt_size, id);
	else
		ret = viridian_channel_send(c->ch, pkt, pkt_size, id,
					    VM_PKT_DATA_INBAND,
					    VMBUS_PKT_FLAG_COMPLETION_REQUESTED);
	if (ret) {
		/* The host never saw the ID: give it back. */
		viridian_request_id_put(c->ch, id);
		req->chan = NULL;
	} else {
		req->host_owned = true;
	}
out:
	spin_unlock_irqrestore(&c->lock, flags);
	return ret;
}

/*
 * Take a request back from the host. True if it was still outstanding (its
 * ID is now dead); false if a completion already claimed it.
 */
static bool storvsc_revoke_req(struct storvsc_req *req)
{
	struct storvsc_chan *c = req->chan;
	unsigned long flags;
	bool revoked = false;

	if (!c)
		return false;
	spin_lock_irqsave(&c->lock, flags);
	if (req->host_owned) {
		if (viridian_request_id_put(c->ch, req->id) != req)
			dev_warn(storvsc_dev(c->host),
				 "request ID %llu was not ours to revoke\n",
				 req->id);
		req->host_owned = false;
		revoked = true;
	}
	spin_unlock_irqrestore(&c->lock, flags);
	return revoked;
}

/* Control requests. */

static void storvsc_ctl_prepare(struct storvsc_ctl *ctl, u32 operation)
{
	memset(&ctl->pkt, 0, sizeof(ctl->pkt));
	ctl->pkt.operation = operation;
	ctl->pkt.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	ctl->answer_len = 0;
	ctl->req.kind = STORVSC_REQ_CTL;
	ctl->req.chan = NULL;
	ctl->req.host_owned = false;
	reinit_completion(&ctl->done);
}

/*
 * Send a prepared control request on the primary channel and wait for the
 * answer, which replaces ctl->pkt. With check, anything but COMPLETE_IO with
 * status 0 fails.
 */
static int storvsc_ctl_exec(struct storvsc_host *host, struct storvsc_ctl *ctl,
			    unsigned int timeout_s, bool check)
{
	unsigned long deadline = jiffies + timeout_s * HZ;
	int ret;

	for (;;) {
		ret = storvsc_send_req(&host->primary, &ctl->req, &ctl->pkt,
				       host->pkt_size, NULL, 0);
		if (ret != -EAGAIN)
			break;
		/* The ring is full of I/O; it drains as the host answers. */
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		msleep(20);
	}
	if (ret)
		return ret;

	/* A rescinded channel is never answered: stop waiting as it goes. */
	while (!wait_for_completion_timeout(&ctl->done, STORVSC_RESCIND_POLL)) {
		bool gone = viridian_channel_rescinded(host->primary.ch);

		if (!gone && time_before(jiffies, deadline))
			continue;
		if (storvsc_revoke_req(&ctl->req))
			return gone ? -ENODEV : -ETIMEDOUT;
		/* The answer came as we gave up: the callback is finishing. */
		wait_for_completion(&ctl->done);
		break;
	}

	if (ctl->answer_len < VSTOR_PACKET_SIZE_PRE_WIN8) {
		dev_err(storvsc_dev(host), "short answer (%u bytes) to operation %u\n",
			ctl->answer_len, ctl->pkt.operation);
		return -EPROTO;
	}
	if (check && (ctl->pkt.operation != VSTOR_OPERATION_COMPLETE_IO ||
		      ctl->pkt.status != VSTOR_STATUS_SUCCESS))
		return -EPROTO;
	return 0;
}

static int storvsc_ctl_simple(struct storvsc_host *host, u32 operation,
			      const char *what)
{
	struct storvsc_ctl *ctl = &host->init_ctl;
	int ret;

	storvsc_ctl_prepare(ctl, operation);
	ret = storvsc_ctl_exec(host, ctl, init_timeout, true);
	if (ret)
		dev_err(storvsc_dev(host), "%s failed: %d (operation %u, status %#x)\n",
			what, ret, ctl->pkt.operation, ctl->pkt.status);
	return ret;
}

static int storvsc_negotiate_version(struct storvsc_host *host)
{
	struct storvsc_ctl *ctl = &host->init_ctl;
	unsigned int i;
	u16 v;
	int ret;

	for (i = 0; (v = storvsc_proto_version_at(i)) != 0; i++) {
		storvsc_ctl_prepare(ctl, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION);
		ctl->pkt.version.major_minor = v;
		ctl->pkt.version.revision = 0;
		ret = storvsc_ctl_exec(host, ctl, init_timeout, false);
		if (ret) {
			dev_err(storvsc_dev(host), "protocol version query failed: %d\n",
				ret);
			return ret;
		}
		if (ctl->pkt.operation != VSTOR_OPERATION_COMPLETE_IO) {
			dev_err(storvsc_dev(host), "bad answer %u to a version query\n",
				ctl->pkt.operation);
			return -EPROTO;
		}
		if (ctl->pkt.status == VSTOR_STATUS_SUCCESS) {
			host->version = v;
			host->pkt_size = vstor_packet_size(v);
			host->sense_size = vstor_sense_size(v);
			return 0;
		}
	}
	dev_err(storvsc_dev(host),
		"host accepts none of the storage protocols %u.%u down to %u.%u\n",
		VMSTOR_PROTO_VERSION_MAJOR(storvsc_proto_version_at(0)),
		VMSTOR_PROTO_VERSION_MINOR(storvsc_proto_version_at(0)),
		VMSTOR_PROTO_VERSION_MAJOR(storvsc_proto_version_at(i - 1)),
		VMSTOR_PROTO_VERSION_MINOR(storvsc_proto_version_at(i - 1)));
	return -EPROTONOSUPPORT;
}

static int storvsc_handshake(struct storvsc_host *host)
{
	struct storvsc_ctl *ctl = &host->init_ctl;
	int ret;

	/* Until a version is agreed, send full-size packets as Linux does. */
	host->pkt_size = VSTOR_PACKET_SIZE;
	host->sense_size = VMSCSI_SENSE_SIZE;

	ret = storvsc_ctl_simple(host, VSTOR_OPERATION_BEGIN_INITIALIZATION,
				 "BEGIN_INITIALIZATION");
	if (ret)
		return ret;

	ret = storvsc_negotiate_version(host);
	if (ret)
		return ret;

	ret = storvsc_ctl_simple(host, VSTOR_OPERATION_QUERY_PROPERTIES,
				 "QUERY_PROPERTIES");
	if (ret)
		return ret;
	host->host_max_channels = ctl->pkt.properties.max_channel_count;
	host->host_multichannel = ctl->pkt.properties.flags &
				  STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL;
	host->host_max_transfer = ctl->pkt.properties.max_transfer_bytes;

	if (host->kind == STORVSC_KIND_FC) {
		ret = storvsc_ctl_simple(host, VSTOR_OPERATION_FCHBA_DATA,
					 "FCHBA_DATA");
		if (ret)
			return ret;
		storvsc_fc_wwns(&ctl->pkt.wwn, &host->port_name,
				&host->node_name);
	}

	return storvsc_ctl_simple(host, VSTOR_OPERATION_END_INITIALIZATION,
				  "END_INITIALIZATION");
}

/* Receiving. */

static void storvsc_log_completion(struct storvsc_host *host,
				   const struct storvsc_cmd *cmd,
				   const struct storvsc_io_status *st,
				   const struct storvsc_io_result *res)
{
	unsigned int level = res->log == STORVSC_LOG_ERROR ?
			     STORVSC_LOG_LEVEL_ERROR : STORVSC_LOG_LEVEL_WARN;

	if (res->log == STORVSC_LOG_NONE || READ_ONCE(log_level) < level)
		return;
	dev_warn_ratelimited(storvsc_dev(host),
			     "%u:%u:%u: cmd %#04x srb %#04x scsi %#04x sense %x/%02x/%02x -> host byte %#x\n",
			     cmd->channel, cmd->target, cmd->lun, st->opcode,
			     st->srb_status, st->scsi_status, st->sense.key,
			     st->sense.asc, st->sense.ascq, res->host_byte);
}

static void storvsc_complete_io(struct storvsc_host *host,
				struct storvsc_cmd *cmd,
				const struct vstor_packet *ans, u32 len)
{
	struct scsi_cmnd *scmd = cmd->scmd;
	const struct vmscsi_request *srb = &ans->vm_srb;
	struct storvsc_io_status st = { 0 };
	struct storvsc_io_result res;
	u32 sense_len;

	if (len < host->pkt_size ||
	    ans->operation != VSTOR_OPERATION_COMPLETE_IO) {
		dev_err_ratelimited(storvsc_dev(host),
				    "malformed SRB completion: operation %u, %u bytes\n",
				    ans->operation, len);
		scmd->result = DID_ERROR << 16;
		scsi_set_resid(scmd, cmd->length);
		goto done;
	}

	st.srb_status = srb->srb_status;
	st.scsi_status = srb->scsi_status;
	st.opcode = cmd->opcode;
	st.requested = cmd->length;
	st.transferred = srb->data_transfer_length;
	sense_len = min_t(u32, srb->sense_info_length, host->sense_size);
	if ((srb->srb_status & SRB_STATUS_AUTOSENSE_VALID) && sense_len)
		st.sense_valid = storvsc_sense_parse(srb->sense_data, sense_len,
						     &st.sense);

	storvsc_map_completion(&st, &res);
	if (res.copy_sense)
		memcpy(scmd->sense_buffer, srb->sense_data,
		       min_t(u32, sense_len, SCSI_SENSE_BUFFERSIZE));
	scmd->result = (res.host_byte << 16) | res.scsi_status;
	scsi_set_resid(scmd, res.resid);
	storvsc_log_completion(host, cmd, &st, &res);
	/*
	 * A LUN still being probed is the scan's to keep or discard, and may
	 * be freed before a followup could look it up (FC scans 128 targets).
	 */
	if (res.followup == STORVSC_FOLLOWUP_REMOVE_DEVICE &&
	    READ_ONCE(scmd->device->sdev_state) == SDEV_CREATED)
		res.followup = STORVSC_FOLLOWUP_NONE;
	storvsc_queue_followup(host, res.followup, cmd);

done:
	scsi_done(scmd);
	if (atomic_dec_and_test(&host->outstanding))
		wake_up(&host->drain_wq);
}

static void storvsc_notification(struct storvsc_host *host,
				 const struct vstor_packet *pkt, u32 len)
{
	switch (pkt->operation) {
	case VSTOR_OPERATION_ENUMERATE_BUS:
	case VSTOR_OPERATION_REMOVE_DEVICE:
		storvsc_queue_scan(host);
		break;
	case VSTOR_OPERATION_FCHBA_DATA:
		if (host->kind != STORVSC_KIND_FC ||
		    len < VSTOR_PACKET_HEADER_SIZE + sizeof(pkt->wwn))
			goto unexpected;
		storvsc_fc_wwns(&pkt->wwn, &host->port_name, &host->node_name);
#if STORVSC_FC
		if (READ_ONCE(host->fc_attrs_ready)) {
			fc_host_port_name(host->shost) = host->port_name;
			fc_host_node_name(host->shost) = host->node_name;
		}
#endif
		break;
	default:
		goto unexpected;
	}
	return;

unexpected:
	dev_warn_ratelimited(storvsc_dev(host),
			     "ignoring unsolicited operation %u (%u bytes)\n",
			     pkt->operation, len);
}

static void storvsc_dispatch(struct storvsc_chan *c, u32 len, u64 trans_id)
{
	struct storvsc_host *host = c->host;
	const struct vstor_packet *pkt = (const struct vstor_packet *)c->rx;
	struct storvsc_req *req;
	struct storvsc_ctl *ctl;
	unsigned long flags;

	if (len < sizeof(pkt->operation)) {
		dev_warn_ratelimited(storvsc_dev(host),
				     "ignoring a %u-byte packet\n", len);
		return;
	}
	if (len < sizeof(c->rx))
		memset(c->rx + len, 0, sizeof(c->rx) - len);

	/* The host starts notifications with transaction ID 0. */
	if (!trans_id) {
		storvsc_notification(host, pkt, len);
		return;
	}

	spin_lock_irqsave(&c->lock, flags);
	req = viridian_request_id_put(c->ch, trans_id);
	if (req)
		req->host_owned = false;
	spin_unlock_irqrestore(&c->lock, flags);

	if (!req) {
		dev_warn_ratelimited(storvsc_dev(host),
				     "ignoring a completion with unknown ID %llu (operation %u)\n",
				     trans_id, pkt->operation);
		return;
	}

	if (req->kind == STORVSC_REQ_IO) {
		storvsc_complete_io(host, container_of(req, struct storvsc_cmd, req),
				    pkt, len);
		return;
	}

	ctl = container_of(req, struct storvsc_ctl, req);
	memcpy(&ctl->pkt, c->rx, sizeof(ctl->pkt));
	ctl->answer_len = len;
	complete(&ctl->done);
}

/* Drop one packet too large for c->rx, so the ring keeps moving. */
static int storvsc_discard_oversized(struct storvsc_chan *c, u32 need)
{
	u64 trans_id;
	void *buf;
	u32 len;
	int ret;

	if (need > VMBUS_MAX_PACKET_SIZE)
		return -EBADMSG;
	buf = kmalloc(need, GFP_ATOMIC);
	if (!buf)
		return -ENOMEM;
	ret = viridian_channel_recv(c->ch, buf, need, &len, &trans_id);
	kfree(buf);
	if (!ret)
		dev_warn_ratelimited(storvsc_dev(c->host),
				     "dropped an oversized %u-byte packet (ID %llu)\n",
				     len, trans_id);
	return ret;
}

static void storvsc_on_event(void *context)
{
	struct storvsc_chan *c = context;
	u64 trans_id;
	u32 len;
	int ret;

	for (;;) {
		ret = viridian_channel_recv(c->ch, c->rx, sizeof(c->rx), &len,
					    &trans_id);
		if (ret == -ENOBUFS)
			ret = storvsc_discard_oversized(c, len);
		else if (!ret)
			storvsc_dispatch(c, len, trans_id);
		if (ret == -EAGAIN)
			return;
		if (ret) {
			dev_err_ratelimited(storvsc_dev(c->host),
					    "channel %u receive failed: %d\n",
					    viridian_channel_relid(c->ch), ret);
			return;
		}
	}
}

/* Channels. */

static int storvsc_open_channel(struct storvsc_chan *c)
{
	struct vmstorage_channel_properties props;

	memset(&props, 0, sizeof(props));
	return viridian_channel_open(c->ch, VMSTOR_RING_BYTES, VMSTOR_RING_BYTES,
				     &props, sizeof(props), storvsc_on_event, c);
}

static void storvsc_chan_init(struct storvsc_chan *c, struct storvsc_host *host,
			      struct viridian_channel *ch)
{
	c->ch = ch;
	c->host = host;
	spin_lock_init(&c->lock);
}

/*
 * Under storvsc_hosts_lock. A sub-channel reports the device of its
 * primary.
 */
static struct storvsc_host *storvsc_host_of_sub(struct viridian_channel *sub)
{
	struct viridian_device *vdev = viridian_channel_device(sub);
	struct storvsc_host *host;

	if (!vdev) {
		pr_warn_ratelimited("viridian_storvsc: sub-channel %u has no device\n",
				    viridian_channel_relid(sub));
		return NULL;
	}
	list_for_each_entry(host, &storvsc_hosts, node)
		if (host->vdev == vdev)
			return host;
	return NULL;
}

static void storvsc_sub_offered(struct viridian_channel *sub)
{
	struct storvsc_host *host;
	struct storvsc_chan *sc;
	u16 idx;
	int ret;

	mutex_lock(&storvsc_hosts_lock);
	host = storvsc_host_of_sub(sub);
	if (!host)
		goto out;

	idx = viridian_channel_subchannel_index(sub);
	if (!idx || idx >= host->nr_slots || host->chans[idx]) {
		dev_dbg(storvsc_dev(host), "not using sub-channel %u\n", idx);
		goto out;
	}

	sc = kzalloc(sizeof(*sc), GFP_KERNEL);
	if (!sc)
		goto out;
	storvsc_chan_init(sc, host, sub);
	viridian_channel_set_drvdata(sub, sc);
	ret = storvsc_open_channel(sc);
	if (ret) {
		dev_warn(storvsc_dev(host), "sub-channel %u failed to open: %d\n",
			 idx, ret);
		viridian_channel_set_drvdata(sub, NULL);
		kfree(sc);
		goto out;
	}
	/* Pairs with smp_load_acquire() in storvsc_chan_at(). */
	smp_store_release(&host->chans[idx], sc);
out:
	mutex_unlock(&storvsc_hosts_lock);
}

static struct storvsc_chan *storvsc_chan_at(struct storvsc_host *host, u32 slot)
{
	/* Pairs with smp_store_release() in storvsc_sub_offered(). */
	struct storvsc_chan *c = smp_load_acquire(&host->chans[slot]);

	if (!c || viridian_channel_rescinded(c->ch))
		return NULL;
	return c;
}

static bool storvsc_chan_has_room(struct storvsc_chan *c, u32 need)
{
	return storvsc_ring_has_room(viridian_channel_send_space(c->ch),
				     VMSTOR_RING_DATA_BYTES,
				     STORVSC_RING_LOWATER_PERCENT, need);
}

/*
 * The queue's own channel unless its ring is nearly full; then the next
 * channel with room; failing all, the queue's own (the send may then find
 * room, or the midlayer retries).
 */
static struct storvsc_chan *storvsc_pick_chan(struct storvsc_host *host,
					      u32 hwq, u32 need)
{
	struct storvsc_chan *pref, *c;
	u32 n = host->nr_slots, i;

	pref = storvsc_chan_at(host, hwq % n);
	if (!pref)
		pref = &host->primary;
	if (n == 1 || storvsc_chan_has_room(pref, need))
		return pref;
	for (i = 1; i < n; i++) {
		c = storvsc_chan_at(host, (hwq + i) % n);
		if (c && c != pref && storvsc_chan_has_room(c, need))
			return c;
	}
	return pref;
}

static int storvsc_setup_subchannels(struct storvsc_host *host)
{
	struct storvsc_ctl *ctl = &host->init_ctl;
	u16 want = 0;
	int ret;

	if (host->kind != STORVSC_KIND_IDE)
		want = storvsc_subchannels_wanted(num_online_cpus(),
						  host->host_max_channels,
						  max_queues,
						  host->host_multichannel,
						  host->version);

	host->nr_slots = want + 1;
	host->chans = kcalloc(host->nr_slots, sizeof(*host->chans), GFP_KERNEL);
	if (!host->chans)
		return -ENOMEM;
	host->chans[0] = &host->primary;
	if (!want)
		return 0;

	mutex_lock(&storvsc_hosts_lock);
	list_add_tail(&host->node, &storvsc_hosts);
	host->registered = true;
	mutex_unlock(&storvsc_hosts_lock);

	/* Offers that came before we ask are handed to the handler too. */
	viridian_channel_set_subchannel_handler(host->primary.ch,
						storvsc_sub_offered);
	host->handler_set = true;

	storvsc_ctl_prepare(ctl, VSTOR_OPERATION_CREATE_SUB_CHANNELS);
	ctl->pkt.sub_channel_count = want;
	ret = storvsc_ctl_exec(host, ctl, init_timeout, true);
	if (ret)
		/* Not fatal: every queue falls back to the primary. */
		dev_warn(storvsc_dev(host),
			 "asking for %u sub-channels failed: %d (status %#x)\n",
			 want, ret, ctl->pkt.status);
	return 0;
}

static void storvsc_close_subchannels(struct storvsc_host *host)
{
	struct storvsc_chan *sc;
	u16 i;

	mutex_lock(&storvsc_hosts_lock);
	if (host->registered) {
		list_del(&host->node);
		host->registered = false;
	}
	mutex_unlock(&storvsc_hosts_lock);

	if (host->handler_set) {
		viridian_channel_set_subchannel_handler(host->primary.ch, NULL);
		host->handler_set = false;
	}

	if (!host->chans)
		return;
	for (i = 1; i < host->nr_slots; i++) {
		sc = host->chans[i];
		if (!sc)
			continue;
		viridian_channel_close(sc->ch);
		viridian_channel_set_drvdata(sc->ch, NULL);
		kfree(sc);
		host->chans[i] = NULL;
	}
	kfree(host->chans);
	host->chans = NULL;
}

/* I/O. */

/*
 * One range over the whole buffer: the first page's offset and the byte
 * count, then every page in order. The virt boundary guarantees that only
 * the first element starts and only the last ends inside a page; a list
 * that breaks that would make the host move the wrong bytes, so it fails.
 */
static int storvsc_build_range(struct storvsc_host *host,
			       struct storvsc_cmd *cmd, struct scsi_cmnd *scmd,
			       struct vmbus_packet_gpa_range **out, u32 *pfns_out)
{
	struct scatterlist *sgl = scsi_sglist(scmd), *sg;
	int nents = scsi_sg_count(scmd), j;
	u32 remaining = cmd->length, first_off, npfns, i = 0;
	struct vmbus_packet_gpa_range *range;

	first_off = sg_phys(sgl) & (VIRIDIAN_PAGE_SIZE - 1);
	npfns = storvsc_buffer_pages(first_off, cmd->length);
	if (npfns > host->limits.sg_tablesize)
		return -EINVAL;

	if (npfns <= STORVSC_INLINE_PFNS) {
		range = &cmd->range;
	} else {
		range = kmalloc(struct_size(range, pfn_array, npfns), GFP_ATOMIC);
		if (!range)
			return -ENOMEM;
	}
	range->byte_count = cmd->length;
	range->byte_offset = first_off;

	for_each_sg(sgl, sg, nents, j) {
		phys_addr_t start = sg_phys(sg);
		u32 len = min_t(u32, sg->length, remaining);
		u64 pfn, end;

		if (!len)
			break;
		if (j > 0 && (start & (VIRIDIAN_PAGE_SIZE - 1)))
			goto bad;
		remaining -= len;
		if (remaining && ((start + len) & (VIRIDIAN_PAGE_SIZE - 1)))
			goto bad;
		end = (start + len + VIRIDIAN_PAGE_SIZE - 1) >> VIRIDIAN_PAGE_SHIFT;
		for (pfn = start >> VIRIDIAN_PAGE_SHIFT; pfn < end; pfn++) {
			if (i >= npfns)
				goto bad;
			range->pfn_array[i++] = pfn;
		}
	}
	if (remaining || i != npfns)
		goto bad;

	*out = range;
	*pfns_out = npfns;
	return 0;

bad:
	if (range != &cmd->range)
		kfree(range);
	return -EINVAL;
}

/*
 * Called once per command when blk-mq allocates it. Providing it also stops
 * the midlayer from zeroing the private data before each use, which would
 * hide a request the host still holds.
 */
static int storvsc_init_cmd_priv(struct Scsi_Host *shost, struct scsi_cmnd *scmd)
{
	struct storvsc_cmd *cmd = scsi_cmd_priv(scmd);

	memset(cmd, 0, sizeof(*cmd));
	cmd->req.kind = STORVSC_REQ_IO;
	return 0;
}

static void storvsc_fail_now(struct scsi_cmnd *scmd, u8 host_byte)
{
	scmd->result = host_byte << 16;
	scsi_done(scmd);
}

static void storvsc_build_srb(struct storvsc_host *host,
			      struct scsi_cmnd *scmd, struct vstor_packet *pkt)
{
	struct vmscsi_request *srb = &pkt->vm_srb;
	struct scsi_device *sdev = scmd->device;

	memset(pkt, 0, sizeof(*pkt));
	pkt->operation = VSTOR_OPERATION_EXECUTE_SRB;
	pkt->flags = VSTOR_FLAG_REQUEST_COMPLETION;

	srb->length = vstor_srb_size(host->version);
	srb->port_number = (u8)host->shost->host_no;
	srb->path_id = sdev->channel;
	srb->target_id = sdev->id;
	srb->lun = sdev->lun;
	srb->cdb_length = scmd->cmd_len;
	memcpy(srb->cdb, scmd->cmnd, scmd->cmd_len);
	srb->sense_info_length = host->sense_size;
	srb->data_transfer_length = scsi_bufflen(scmd);

	/* The Windows 8 extension; cut off on the wire for older hosts. */
	srb->srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER;
	srb->time_out_value = scsi_cmd_to_rq(scmd)->timeout / HZ;
	if (sdev->tagged_supported) {
		srb->srb_flags |= SRB_FLAGS_QUEUE_ACTION_ENABLE |
				  SRB_FLAGS_NO_QUEUE_FREEZE;
		srb->queue_tag = SRB_QUEUE_TAG_UNTAGGED;
		srb->queue_action = SRB_SIMPLE_TAG_REQUEST;
	}
	switch (scmd->sc_data_direction) {
	case DMA_TO_DEVICE:
		srb->data_in = VMSCSI_DATA_OUT;
		srb->srb_flags |= SRB_FLAGS_DATA_OUT;
		break;
	case DMA_FROM_DEVICE:
		srb->data_in = VMSCSI_DATA_IN;
		srb->srb_flags |= SRB_FLAGS_DATA_IN;
		break;
	default:
		srb->data_in = VMSCSI_DATA_UNKNOWN;
		srb->srb_flags |= SRB_FLAGS_NO_DATA_TRANSFER;
		break;
	}
}

static int storvsc_queuecommand(struct Scsi_Host *shost, struct scsi_cmnd *scmd)
{
	struct storvsc_host *host = shost_priv(shost);
	struct storvsc_cmd *cmd = scsi_cmd_priv(scmd);
	struct vmbus_packet_gpa_range *range = NULL;
	struct scsi_device *sdev = scmd->device;
	struct vstor_packet pkt;
	struct storvsc_chan *c;
	u32 pfns = 0, hwq;
	int ret;

	if (!storvsc_proto_cmd_allowed(host->version, scmd->cmnd[0]) ||
	    scmd->cmd_len > VMSCSI_CDB_SIZE ||
	    scmd->sc_data_direction == DMA_BIDIRECTIONAL) {
		storvsc_fail_now(scmd, DID_ERROR);
		return 0;
	}

	/*
	 * The error handler may resend a command it took over; the host must
	 * not answer the old incarnation into the new one.
	 */
	if (unlikely(READ_ONCE(cmd->req.host_owned)) &&
	    storvsc_revoke_req(&cmd->req) &&
	    atomic_dec_and_test(&host->outstanding))
		wake_up(&host->drain_wq);
	cmd->req.chan = NULL;
	cmd->scmd = scmd;
	cmd->length = scsi_bufflen(scmd);
	cmd->opcode = scmd->cmnd[0];
	cmd->channel = sdev->channel;
	cmd->target = sdev->id;
	cmd->lun = sdev->lun;

	if (cmd->length) {
		if (!scsi_sg_count(scmd)) {
			storvsc_fail_now(scmd, DID_ERROR);
			return 0;
		}
		ret = storvsc_build_range(host, cmd, scmd, &range, &pfns);
		if (ret == -ENOMEM)
			return SCSI_MLQUEUE_HOST_BUSY;
		if (ret) {
			sdev_printk(KERN_ERR, sdev,
				    "scatterlist not page-contiguous (%u bytes); failing command\n",
				    cmd->length);
			storvsc_fail_now(scmd, DID_ERROR);
			return 0;
		}
	}

	storvsc_build_srb(host, scmd, &pkt);
	hwq = blk_mq_unique_tag_to_hwq(blk_mq_unique_tag(scsi_cmd_to_rq(scmd)));
	c = storvsc_pick_chan(host, hwq,
			      storvsc_srb_footprint(pfns, host->pkt_size));

	atomic_inc(&host->outstanding);
	ret = storvsc_send_req(c, &cmd->req, &pkt, host->pkt_size, range,
			       range ? struct_size(range, pfn_array, pfns) : 0);
	if (ret == -ENODEV && c != &host->primary)
		/* A rescinded sub-channel: the primary still works. */
		ret = storvsc_send_req(&host->primary, &cmd->req, &pkt,
				       host->pkt_size, range,
				       range ? struct_size(range, pfn_array, pfns) : 0);
	if (range && range != &cmd->range)
		kfree(range);
	if (!ret)
		return 0;

	if (atomic_dec_and_test(&host->outstanding))
		wake_up(&host->drain_wq);
	switch (ret) {
	case -EAGAIN:
	case -ENOSPC:
	case -ENOMEM:
	case -EBUSY:
		return SCSI_MLQUEUE_HOST_BUSY;
	case -ENODEV:
		storvsc_fail_now(scmd, DID_NO_CONNECT);
		return 0;
	default:
		dev_err_ratelimited(storvsc_dev(host), "sending an SRB failed: %d\n",
				    ret);
		storvsc_fail_now(scmd, DID_ERROR);
		return 0;
	}
}

/* Error handling. */

static bool storvsc_revoke_abandoned(struct scsi_cmnd *scmd, void *data)
{
	struct storvsc_host *host = data;
	struct storvsc_cmd *cmd = scsi_cmd_priv(scmd);

	/* Only commands the error handler owns; the rest may still finish. */
	if (!test_bit(SCMD_STATE_COMPLETE, &scmd->state))
		return true;
	if (storvsc_revoke_req(&cmd->req) &&
	    atomic_dec_and_test(&host->outstanding))
		wake_up(&host->drain_wq);
	return true;
}

/* True once the host holds no SRB; false on timeout or rescind. */
static bool storvsc_wait_drained(struct storvsc_host *host, unsigned int timeout_s)
{
	unsigned long deadline = jiffies + timeout_s * HZ;

	while (!wait_event_timeout(host->drain_wq,
				   !atomic_read(&host->outstanding),
				   STORVSC_RESCIND_POLL)) {
		if (viridian_channel_rescinded(host->primary.ch) ||
		    time_after(jiffies, deadline))
			return false;
	}
	return true;
}

static bool storvsc_fail_unanswered(struct scsi_cmnd *scmd, void *data)
{
	struct storvsc_host *host = data;
	struct storvsc_cmd *cmd = scsi_cmd_priv(scmd);

	if (!storvsc_revoke_req(&cmd->req))
		return true;
	/* Ignored by the midlayer if the command timed out meanwhile. */
	scmd->result = DID_NO_CONNECT << 16;
	scsi_set_resid(scmd, cmd->length);
	scsi_done(scmd);
	if (atomic_dec_and_test(&host->outstanding))
		wake_up(&host->drain_wq);
	return true;
}

/*
 * A rescinded controller answers nothing more, and every send to it fails
 * at once (the bus sets the flag before it removes the device). What the
 * host held when it left fails now rather than at the SCSI timeout, so that
 * scans and sd's last SYNCHRONIZE CACHE do not hold up the removal.
 */
static void storvsc_fail_rescinded(struct storvsc_host *host)
{
	unsigned int n = atomic_read(&host->outstanding);

	if (!viridian_channel_rescinded(host->primary.ch))
		return;
	if (n)
		dev_info(storvsc_dev(host),
			 "controller rescinded: failing %u unanswered SRB(s)\n", n);
	scsi_host_busy_iter(host->shost, storvsc_fail_unanswered, host);
}

static int storvsc_eh_host_reset(struct scsi_cmnd *scmd)
{
	struct Scsi_Host *shost = scmd->device->host;
	struct storvsc_host *host = shost_priv(shost);
	struct storvsc_ctl *ctl = &host->reset_ctl;
	int ret;

	shost_printk(KERN_WARNING, shost, "resetting the bus, %d SRBs outstanding\n",
		     atomic_read(&host->outstanding));

	storvsc_ctl_prepare(ctl, VSTOR_OPERATION_RESET_BUS);
	ctl->pkt.vm_srb.path_id = scmd->device->channel;
	ret = storvsc_ctl_exec(host, ctl, io_timeout, false);
	if (ret) {
		shost_printk(KERN_ERR, shost, "bus reset failed: %d\n", ret);
	} else {
		if (ctl->pkt.status != VSTOR_STATUS_SUCCESS)
			shost_printk(KERN_WARNING, shost,
				     "bus reset answered with status %#x\n",
				     ctl->pkt.status);
		/* A reset host completes everything it held; wait for it. */
		if (!storvsc_wait_drained(host, STORVSC_DRAIN_TIMEOUT_S))
			shost_printk(KERN_WARNING, shost,
				     "%d SRBs still outstanding after the reset\n",
				     atomic_read(&host->outstanding));
	}

	/*
	 * The error handler will reuse the commands it owns: no late answer
	 * from the host may reach them.
	 */
	scsi_host_busy_iter(shost, storvsc_revoke_abandoned, host);
	return ret ? FAILED : SUCCESS;
}

/* SCSI devices. */

static int storvsc_slave_alloc(struct scsi_device *sdev)
{
	/*
	 * Hyper-V's disks claim SPC-2 yet answer REPORT LUNS and the VPD
	 * pages that tell sd about discard and WRITE SAME.
	 */
	sdev->sdev_bflags |= BLIST_REPORTLUN2 | BLIST_TRY_VPD_PAGES;
	return 0;
}

static int storvsc_slave_configure(struct scsi_device *sdev)
{
	struct storvsc_host *host = shost_priv(sdev->host);
	bool msft = sdev->vendor &&
		    !strncmp(sdev->vendor, STORVSC_MSFT_VENDOR,
			     strlen(STORVSC_MSFT_VENDOR));

	blk_queue_rq_timeout(sdev->request_queue, io_timeout * HZ);
	/* The host rejects MAINTENANCE IN, which REPORT OPCODES uses. */
	sdev->no_report_opcodes = 1;
	sdev->no_write_same = !storvsc_proto_write_same_ok(host->version, msft);
	if (storvsc_proto_claim_spc3(host->version, msft))
		sdev->scsi_level = SCSI_SPC_3;
	return 0;
}

static int storvsc_change_queue_depth(struct scsi_device *sdev, int depth)
{
	if (depth > sdev->host->can_queue)
		depth = sdev->host->can_queue;
	return scsi_change_queue_depth(sdev, depth);
}

static struct scsi_host_template storvsc_template = {
	.module			= THIS_MODULE,
	.name			= "viridian_storvsc",
	.proc_name		= "viridian_storvsc",
	.queuecommand		= storvsc_queuecommand,
	.eh_host_reset_handler	= storvsc_eh_host_reset,
	.slave_alloc		= storvsc_slave_alloc,
	.slave_configure	= storvsc_slave_configure,
	.change_queue_depth	= storvsc_change_queue_depth,
	.can_queue		= 64,		/* per host, set at probe */
	.cmd_per_lun		= 64,
	.this_id		= -1,
	.sg_tablesize		= 1,		/* per host, set at probe */
	.max_sectors		= 8,		/* per host, set at probe */
	/* Whole pages between the first and last element: one GPA range. */
	.virt_boundary_mask	= VIRIDIAN_PAGE_SIZE - 1,
	.cmd_size		= sizeof(struct storvsc_cmd),
	.init_cmd_priv		= storvsc_init_cmd_priv,
	.track_queue_depth	= 1,
	/* A reset is done when the host answers it: no bus to settle. */
	.skip_settle_delay	= 1,
};

static void storvsc_setup_shost(struct storvsc_host *host)
{
	struct Scsi_Host *shost = host->shost;
	u32 depth;

	storvsc_transfer_limits(host->host_max_transfer,
				host->kind == STORVSC_KIND_FC,
				VMSTOR_RING_DATA_BYTES,
				STORVSC_FALLBACK_TRANSFER, &host->limits);
	if (host->host_max_transfer < VIRIDIAN_PAGE_SIZE)
		dev_warn(storvsc_dev(host),
			 "host reports a maximum transfer of %u bytes; using %u\n",
			 host->host_max_transfer, host->limits.max_bytes);

	shost->max_sectors = host->limits.max_sectors;
	shost->sg_tablesize = host->limits.sg_tablesize;
	shost->max_cmd_len = VMSCSI_CDB_SIZE;

	/* Each hardware queue feeds one channel. */
	depth = storvsc_channel_queue_depth(VMSTOR_RING_DATA_BYTES,
					    host->pkt_size, STORVSC_TYPICAL_PFNS,
					    STORVSC_RING_LOWATER_PERCENT);
	shost->can_queue = depth;
	shost->cmd_per_lun = depth;
	shost->nr_hw_queues = host->nr_slots;

	switch (host->kind) {
	case STORVSC_KIND_IDE:
		shost->max_channel = 0;
		shost->max_id = host->ide_target + 1;
		shost->max_lun = VMSTOR_IDE_MAX_LUNS;
		break;
	case STORVSC_KIND_FC:
		shost->max_channel = VMSTOR_FC_MAX_CHANNELS - 1;
		shost->max_id = VMSTOR_FC_MAX_TARGETS;
		shost->max_lun = VMSTOR_FC_MAX_LUNS;
#if STORVSC_FC
		shost->transportt = storvsc_fc_transport;
#endif
		break;
	default:
		shost->max_channel = VMSTOR_SCSI_MAX_CHANNELS - 1;
		shost->max_id = VMSTOR_SCSI_MAX_TARGETS;
		shost->max_lun = VMSTOR_SCSI_MAX_LUNS;
		break;
	}
}

static int storvsc_start_fc(struct storvsc_host *host)
{
#if STORVSC_FC
	struct fc_rport_identifiers ids = {
		.roles = FC_PORT_ROLE_FCP_DUMMY_INITIATOR,
	};

	if (host->kind != STORVSC_KIND_FC)
		return 0;
	fc_host_node_name(host->shost) = host->node_name;
	fc_host_port_name(host->shost) = host->port_name;
	WRITE_ONCE(host->fc_attrs_ready, true);
	host->rport = fc_remote_port_add(host->shost, 0, &ids);
	if (!host->rport)
		return -ENOMEM;
#endif
	return 0;
}

static void storvsc_stop_fc(struct storvsc_host *host)
{
#if STORVSC_FC
	if (host->kind != STORVSC_KIND_FC)
		return;
	if (host->rport) {
		fc_remote_port_delete(host->rport);
		host->rport = NULL;
	}
	fc_remove_host(host->shost);
#endif
}

static int storvsc_probe(struct viridian_device *vdev,
			 const struct hv_vmbus_device_id *id)
{
	struct storvsc_host *host;
	struct Scsi_Host *shost;
	int ret;

	shost = scsi_host_alloc(&storvsc_template, sizeof(*host));
	if (!shost)
		return -ENOMEM;

	host = shost_priv(shost);
	memset(host, 0, sizeof(*host));
	host->vdev = vdev;
	host->shost = shost;
	host->kind = id->driver_data;
	host->ide_target = vmstor_ide_target(&vdev->instance_id);
	storvsc_chan_init(&host->primary, host, vdev->channel);
	init_completion(&host->init_ctl.done);
	init_completion(&host->reset_ctl.done);
	atomic_set(&host->outstanding, 0);
	init_waitqueue_head(&host->drain_wq);
	INIT_WORK(&host->scan_work, storvsc_scan_fn);
	spin_lock_init(&host->work_lock);
	INIT_LIST_HEAD(&host->node);
	viridian_set_drvdata(vdev, host);

	ret = storvsc_open_channel(&host->primary);
	if (ret) {
		dev_err(&vdev->dev, "opening the channel failed: %d\n", ret);
		goto err_put;
	}

	ret = storvsc_handshake(host);
	if (ret)
		goto err_close;

	host->wq = alloc_ordered_workqueue("viridian_storvsc_%u", 0,
					   shost->host_no);
	if (!host->wq) {
		ret = -ENOMEM;
		goto err_close;
	}

	ret = storvsc_setup_subchannels(host);
	if (ret)
		goto err_subs;
	storvsc_setup_shost(host);

	ret = scsi_add_host(shost, &vdev->dev);
	if (ret)
		goto err_subs;
	storvsc_enable_works(host);

	ret = storvsc_start_fc(host);
	if (ret)
		goto err_remove;

	dev_info(&vdev->dev,
		 "storage protocol %u.%u, %u queue(s), max transfer %u KiB, queue depth %d\n",
		 VMSTOR_PROTO_VERSION_MAJOR(host->version),
		 VMSTOR_PROTO_VERSION_MINOR(host->version), host->nr_slots,
		 host->limits.max_bytes / 1024, shost->can_queue);

	if (host->kind == STORVSC_KIND_IDE) {
		ret = scsi_add_device(shost, 0, host->ide_target, 0);
		if (ret) {
			dev_err(&vdev->dev, "adding IDE target %u failed: %d\n",
				host->ide_target, ret);
			goto err_remove;
		}
	} else {
		scsi_scan_host(shost);
	}
	return 0;

err_remove:
	storvsc_stop_works(host);
	storvsc_stop_fc(host);
	scsi_remove_host(shost);
err_subs:
	storvsc_close_subchannels(host);
err_close:
	storvsc_stop_works(host);
	viridian_channel_close(vdev->channel);
err_put:
	viridian_set_drvdata(vdev, NULL);
	scsi_host_put(shost);
	return ret;
}

static void storvsc_remove(struct viridian_device *vdev)
{
	struct storvsc_host *host = viridian_get_drvdata(vdev);
	struct Scsi_Host *shost = host->shost;

	storvsc_fail_rescinded(host);
	/* Scans and rescans issue I/O: finish them while channels are open. */
	storvsc_stop_works(host);
	storvsc_stop_fc(host);
	scsi_remove_host(shost);

	/* No SCSI device is left, so nothing more is sent. */
	storvsc_close_subchannels(host);
	viridian_channel_close(vdev->channel);
	viridian_set_drvdata(vdev, NULL);
	scsi_host_put(shost);
}

static const struct hv_vmbus_device_id storvsc_id_table[] = {
	{ .guid = VMBUS_CLASS_SCSI, .driver_data = STORVSC_KIND_SCSI },
	{ .guid = VMBUS_CLASS_IDE, .driver_data = STORVSC_KIND_IDE },
	{ .guid = VMBUS_CLASS_FC, .driver_data = STORVSC_KIND_FC },
	{ }
};
MODULE_DEVICE_TABLE(vmbus, storvsc_id_table);

static struct viridian_driver storvsc_driver = {
	.name		= KBUILD_MODNAME,
	.id_table	= storvsc_id_table,
	.probe		= storvsc_probe,
	.remove		= storvsc_remove,
	.driver		= {
		.probe_type = PROBE_PREFER_ASYNCHRONOUS,
	},
};

#if STORVSC_FC
static struct fc_function_template storvsc_fc_functions = {
	.show_host_node_name = 1,
	.show_host_port_name = 1,
};
#endif

static int __init storvsc_init(void)
{
	int ret;

	if (!io_timeout)
		io_timeout = 180;
	if (!init_timeout)
		init_timeout = 60;

#if STORVSC_FC
	storvsc_fc_transport = fc_attach_transport(&storvsc_fc_functions);
	if (!storvsc_fc_transport)
		return -ENOMEM;
#endif
	ret = viridian_driver_register(&storvsc_driver);
#if STORVSC_FC
	if (ret)
		fc_release_transport(storvsc_fc_transport);
#endif
	return ret;
}

static void __exit storvsc_exit(void)
{
	viridian_driver_unregister(&storvsc_driver);
#if STORVSC_FC
	fc_release_transport(storvsc_fc_transport);
#endif
}

module_init(storvsc_init);
module_exit(storvsc_exit);

MODULE_DESCRIPTION("Viridian synthetic SCSI storage (storvsc)");
MODULE_LICENSE("GPL");
