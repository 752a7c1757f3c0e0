// SPDX-License-Identifier: GPL-2.0
/*
 * Time sync IC: the host sends its clock, either as SYNC (after boot, resume
 * or restore: the guest clock is wrong and must be set) or as SAMPLE (a
 * periodic hint). SYNC steps the system clock; every sample is kept and
 * served as PTP clock "hyperv", so chrony or ntpd (refclock PHC) can slew to
 * it, since a module cannot discipline the clock itself.
 *
 * Each sample is paired with the VM reference time it belongs to, and the
 * host time now is the sample plus the reference time elapsed since. From
 * version 4 the host names that reference time; before, the guest reads it
 * on arrival.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include <viridian/hv.h>

#include "ic_framework.h"

/* A sample older than this no longer says what the host's time is. */
#define IC_TIMESYNC_STALE_100NS		(600ull * 10 * 1000 * 1000)

static const u32 ic_timesync_versions[] = {
	IC_TIMESYNC_VERSION_4,
	IC_TIMESYNC_VERSION_3,
	IC_TIMESYNC_VERSION_1,
};

struct ic_timesync {
	struct viridian_ic_device *icd;
	struct work_struct set_clock_work;
	struct ptp_clock_info ptp_info;
	struct ptp_clock *ptp;

	/* The latest sample: written by the callback, read by PTP and work. */
	spinlock_t lock;
	bool have_sample;
	s64 sample_ns;			/* host time, ns since 1970 */
	u64 sample_reference;		/* VM reference time it belongs to */
};

/* The host's time now, from the latest sample. */
static int ic_timesync_host_now(struct ic_timesync *ts, s64 *host_ns)
{
	unsigned long flags;
	u64 reference, now;
	bool have_sample;
	s64 sample_ns;

	spin_lock_irqsave(&ts->lock, flags);
	have_sample = ts->have_sample;
	sample_ns = ts->sample_ns;
	reference = ts->sample_reference;
	spin_unlock_irqrestore(&ts->lock, flags);

	if (!have_sample)
		return -ENODATA;
	now = viridian_hv_reference_time();
	*host_ns = viridian_ic_time_extrapolate(sample_ns, reference, now);
	if (now > reference && now - reference > IC_TIMESYNC_STALE_100NS)
		return -ESTALE;
	return 0;
}

static void ic_timesync_set_clock_work(struct work_struct *work)
{
	struct ic_timesync *ts = container_of(work, struct ic_timesync,
					      set_clock_work);
	struct timespec64 host_time;
	s64 host_ns, step_ns;
	int ret;

	ret = ic_timesync_host_now(ts, &host_ns);
	if (ret) {
		dev_warn(viridian_ic_dev(ts->icd),
			 "time sync IC: not setting the clock: %s sample\n",
			 ret == -ESTALE ? "stale" : "no");
		return;
	}

	step_ns = host_ns - ktime_get_real_ns();
	host_time = ns_to_timespec64(host_ns);
	ret = do_settimeofday64(&host_time);
	if (ret)
		dev_err(viridian_ic_dev(ts->icd),
			"time sync IC: cannot set the clock: %d\n", ret);
	else
		dev_info(viridian_ic_dev(ts->icd),
			 "time sync IC: clock set from the host, stepped %lld ms\n",
			 step_ns / NSEC_PER_MSEC);
}

static enum viridian_ic_disposition
ic_timesync_handle(struct viridian_ic_device *icd,
		   struct viridian_ic_message *msg)
{
	struct ic_timesync *ts = icd->priv;
	struct viridian_ic_time_sample sample;
	u64 reference;
	s64 host_ns;

	if (viridian_ic_timesync_parse(msg->body, msg->body_len,
				       icd->message_version, &sample)) {
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "time sync IC: %u-byte message too short\n",
				    msg->body_len);
		viridian_ic_mark_response(msg->hdr, IC_E_FAIL);
		return VIRIDIAN_IC_REPLY;
	}

	if (!(sample.flags & (IC_TIMESYNC_FLAG_SYNC | IC_TIMESYNC_FLAG_SAMPLE))) {
		/* A probe: the host only wants to know we are here. */
		viridian_ic_mark_response(msg->hdr, IC_S_OK);
		return VIRIDIAN_IC_REPLY;
	}

	if (!viridian_ic_host_time_to_unix_ns(sample.host_time, &host_ns)) {
		dev_warn_ratelimited(viridian_ic_dev(icd),
				     "time sync IC: host time %llu out of range\n",
				     sample.host_time);
		viridian_ic_mark_response(msg->hdr, IC_E_FAIL);
		return VIRIDIAN_IC_REPLY;
	}

	reference = sample.has_reference ? sample.reference_time :
					   viridian_hv_reference_time();
	spin_lock(&ts->lock);
	ts->sample_ns = host_ns;
	ts->sample_reference = reference;
	ts->have_sample = true;
	spin_unlock(&ts->lock);

	if (sample.flags & IC_TIMESYNC_FLAG_SYNC)
		schedule_work(&ts->set_clock_work);

	viridian_ic_mark_response(msg->hdr, IC_S_OK);
	return VIRIDIAN_IC_REPLY;
}

static int ic_timesync_ptp_gettime(struct ptp_clock_info *info,
				   struct timespec64 *time)
{
	struct ic_timesync *ts = container_of(info, struct ic_timesync,
					      ptp_info);
	s64 host_ns;
	int ret;

	ret = ic_timesync_host_now(ts, &host_ns);
	if (ret == -ENODATA)
		return ret;
	/* A stale time is still returned, flagged as such (-ESTALE). */
	*time = ns_to_timespec64(host_ns);
	return ret;
}

/* The clock is the host's: it cannot be set or steered from here. */
static int ic_timesync_ptp_adjfine(struct ptp_clock_info *info,
				   long scaled_ppm)
{
	return -EOPNOTSUPP;
}

static int ic_timesync_ptp_adjtime(struct ptp_clock_info *info, s64 delta)
{
	return -EOPNOTSUPP;
}

static int ic_timesync_ptp_settime(struct ptp_clock_info *info,
				   const struct timespec64 *time)
{
	return -EOPNOTSUPP;
}

static int ic_timesync_ptp_enable(struct ptp_clock_info *info,
				  struct ptp_clock_request *request, int on)
{
	return -EOPNOTSUPP;
}

static int ic_timesync_init(struct viridian_ic_device *icd)
{
	struct ic_timesync *ts;

	ts = kzalloc(sizeof(*ts), GFP_KERNEL);
	if (!ts)
		return -ENOMEM;
	ts->icd = icd;
	spin_lock_init(&ts->lock);
	INIT_WORK(&ts->set_clock_work, ic_timesync_set_clock_work);

	ts->ptp_info.owner = THIS_MODULE;
	strscpy(ts->ptp_info.name, "hyperv", sizeof(ts->ptp_info.name));
	ts->ptp_info.adjfine = ic_timesync_ptp_adjfine;
	ts->ptp_info.adjtime = ic_timesync_ptp_adjtime;
	ts->ptp_info.gettime64 = ic_timesync_ptp_gettime;
	ts->ptp_info.settime64 = ic_timesync_ptp_settime;
	ts->ptp_info.enable = ic_timesync_ptp_enable;

	/* Without PTP support SYNC still works; only the PTP clock is missing. */
	ts->ptp = ptp_clock_register(&ts->ptp_info, viridian_ic_dev(icd));
	if (IS_ERR(ts->ptp)) {
		dev_warn(viridian_ic_dev(icd),
			 "time sync IC: no PTP clock: %ld\n", PTR_ERR(ts->ptp));
		ts->ptp = NULL;
	}

	icd->priv = ts;
	return 0;
}

static void ic_timesync_deinit(struct viridian_ic_device *icd)
{
	struct ic_timesync *ts = icd->priv;

	if (ts->ptp)
		ptp_clock_unregister(ts->ptp);
	cancel_work_sync(&ts->set_clock_work);
	icd->priv = NULL;
	kfree(ts);
}

static const struct hv_vmbus_device_id ic_timesync_ids[] = {
	{ .guid = VMBUS_CLASS_TIMESYNC },
	{ }
};
MODULE_DEVICE_TABLE(vmbus, ic_timesync_ids);

struct viridian_ic_service viridian_ic_timesync_service = {
	.driver = {
		.name = "viridian_ic_timesync",
		.id_table = ic_timesync_ids,
		.probe = viridian_ic_probe,
		.remove = viridian_ic_remove,
		.driver = {
			.probe_type = PROBE_PREFER_ASYNCHRONOUS,
		},
	},
	.name = "time sync",
	.msgtype = ICMSGTYPE_TIMESYNC,
	.versions = ic_timesync_versions,
	.nr_versions = ARRAY_SIZE(ic_timesync_versions),
	.init = ic_timesync_init,
	.deinit = ic_timesync_deinit,
	.handle = ic_timesync_handle,
};
