// SPDX-License-Identifier: GPL-2.0
/*
 * Shutdown IC: the host asks for a power off, reboot or hibernation.
 *
 * The host gets its answer first; the request is then carried out from
 * process context by handing it to userspace (orderly_poweroff() and
 * orderly_reboot() run the init system's own command, whatever the init
 * system is), so services stop cleanly. Some init systems take the command
 * and do nothing; a delayed fallback then syncs and powers off or restarts
 * from the kernel, so a host-initiated shutdown always ends.
 */
#include <linux/acpi.h>
#include <linux/device.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/reboot.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/suspend.h>
#include <linux/workqueue.h>

#include "ic_framework.h"

static unsigned int shutdown_timeout = 60;
module_param(shutdown_timeout, uint, 0644);
MODULE_PARM_DESC(shutdown_timeout,
		 "Seconds userspace gets to carry out a host power off or reboot before the kernel forces it (0: never force)");

/* Longer than any init system needs; keeps the jiffies product in range. */
#define IC_SHUTDOWN_TIMEOUT_MAX		(24u * 60 * 60)
/* How much of the host's display message reaches the log. */
#define IC_SHUTDOWN_LOG_BYTES		256

static const u32 ic_shutdown_versions[] = {
	IC_SHUTDOWN_VERSION_3_2,
	IC_SHUTDOWN_VERSION_3_1,
	IC_SHUTDOWN_VERSION_3,
	IC_SHUTDOWN_VERSION_1,
};

struct ic_shutdown {
	struct viridian_ic_device *icd;
	struct work_struct action_work;
	struct delayed_work fallback_work;
	bool can_hibernate;
	/* Set by handle, consumed by after_reply: both in the callback. */
	bool act_pending;

	/* The latest accepted request, from the callback to the works. */
	spinlock_t lock;
	enum viridian_ic_shutdown_action action;
	enum viridian_ic_shutdown_action forcing;
	u32 reason_code;
	u32 host_timeout;
	u32 flags;
	char message[IC_SHUTDOWN_LOG_BYTES];
};

/*
 * hibernation_available() is not exported to modules, so ask what it and
 * the platform would: the bus can suspend, the kernel has hibernation,
 * lockdown does not forbid it, and the firmware offers S4 (Hyper-V offers it
 * only to VMs the host is prepared to hibernate).
 */
static bool ic_kernel_can_hibernate(void)
{
	/* The bus refuses to hibernate: agreeing would mislead the host. */
	if (!viridian_vmbus_can_suspend())
		return false;
	if (!IS_ENABLED(CONFIG_HIBERNATION))
		return false;
	if (security_locked_down(LOCKDOWN_HIBERNATION))
		return false;
#ifdef CONFIG_ACPI
	{
		u8 type_a, type_b;

		if (acpi_disabled)
			return false;
		return ACPI_SUCCESS(acpi_get_sleep_type_data(ACPI_STATE_S4,
							     &type_a, &type_b));
	}
#else
	return false;
#endif
}

/* kobject_uevent_env() only copies these, but its prototype is not const. */
static char *ic_hibernate_env[] = { "EVENT=hibernate", NULL };

static void ic_shutdown_hibernate(struct ic_shutdown *sd)
{
	int ret;

	/*
	 * The kernel cannot start a hibernation on its own behalf from a
	 * module; a udev rule on this event runs the init system's hibernate.
	 */
	ret = kobject_uevent_env(&viridian_ic_dev(sd->icd)->kobj, KOBJ_CHANGE,
				 ic_hibernate_env);
	if (ret)
		dev_err(viridian_ic_dev(sd->icd),
			"shutdown IC: cannot send the hibernate event: %d\n",
			ret);
}

static void ic_shutdown_action_work(struct work_struct *work)
{
	struct ic_shutdown *sd = container_of(work, struct ic_shutdown,
					      action_work);
	enum viridian_ic_shutdown_action action;
	unsigned int timeout;

	spin_lock_bh(&sd->lock);
	action = sd->action;
	dev_notice(viridian_ic_dev(sd->icd),
		   "shutdown IC: host requests %s%s (reason 0x%08x, host timeout %u s): \"%s\"\n",
		   viridian_ic_shutdown_action_name(action),
		   (sd->flags & IC_SHUTDOWN_FLAG_FORCE) ? ", forced" : "",
		   sd->reason_code, sd->host_timeout, sd->message);
	spin_unlock_bh(&sd->lock);

	/* Already on its way down (or up): nothing left to start. */
	if (system_state != SYSTEM_RUNNING)
		return;

	switch (action) {
	case VIRIDIAN_IC_SHUTDOWN_POWER_OFF:
		/* force: powers off from the kernel if the command cannot start. */
		orderly_poweroff(true);
		break;
	case VIRIDIAN_IC_SHUTDOWN_REBOOT:
		orderly_reboot();
		break;
	case VIRIDIAN_IC_SHUTDOWN_HIBERNATE:
		ic_shutdown_hibernate(sd);
		return;
	default:
		return;
	}

	/*
	 * orderly_*() force only when the command fails to start; an init
	 * system that accepts it and does nothing is caught here.
	 */
	timeout = min(READ_ONCE(shutdown_timeout), IC_SHUTDOWN_TIMEOUT_MAX);
	if (!timeout)
		return;
	spin_lock_bh(&sd->lock);
	sd->forcing = action;
	spin_unlock_bh(&sd->lock);
	/* A repeated request does not push an armed deadline back. */
	schedule_delayed_work(&sd->fallback_work, (unsigned long)timeout * HZ);
}

static void ic_shutdown_fallback_work(struct work_struct *work)
{
	struct ic_shutdown *sd = container_of(to_delayed_work(work),
					      struct ic_shutdown,
					      fallback_work);
	enum viridian_ic_shutdown_action action;

	/* Userspace reached reboot(2): the kernel is already doing it. */
	if (system_state != SYSTEM_RUNNING)
		return;

	spin_lock_bh(&sd->lock);
	action = sd->forcing;
	spin_unlock_bh(&sd->lock);

	dev_emerg(viridian_ic_dev(sd->icd),
		  "shutdown IC: userspace did not %s in time, forcing it\n",
		  viridian_ic_shutdown_action_name(action));
	ksys_sync_helper();
	if (action == VIRIDIAN_IC_SHUTDOWN_REBOOT)
		kernel_restart(NULL);
	else
		kernel_power_off();
}

static enum viridian_ic_disposition
ic_shutdown_handle(struct viridian_ic_device *icd,
		   struct viridian_ic_message *msg)
{
	const struct ic_shutdown_msg *request = msg->body;
	struct ic_shutdown *sd = icd->priv;
	enum viridian_ic_shutdown_action action;
	u32 message_bytes;

	if (msg->body_len < VIRIDIAN_IC_SHUTDOWN_MIN_BODY) {
		dev_err_ratelimited(viridian_ic_dev(icd),
				    "shutdown IC: %u-byte message too short\n",
				    msg->body_len);
		viridian_ic_mark_response(msg->hdr, IC_E_FAIL);
		return VIRIDIAN_IC_REPLY;
	}

	action = viridian_ic_shutdown_action(request->flags);
	if (action == VIRIDIAN_IC_SHUTDOWN_INVALID) {
		dev_warn_ratelimited(viridian_ic_dev(icd),
				     "shutdown IC: unknown request flags 0x%x\n",
				     request->flags);
		viridian_ic_mark_response(msg->hdr, IC_E_FAIL);
		return VIRIDIAN_IC_REPLY;
	}
	if (action == VIRIDIAN_IC_SHUTDOWN_HIBERNATE && !sd->can_hibernate) {
		dev_warn_ratelimited(viridian_ic_dev(icd),
				     "shutdown IC: host requests hibernation, which this VM cannot do (kernel, firmware or VMBus driver)\n");
		viridian_ic_mark_response(msg->hdr, IC_E_FAIL);
		return VIRIDIAN_IC_REPLY;
	}

	message_bytes = min_t(u32, msg->body_len - VIRIDIAN_IC_SHUTDOWN_MIN_BODY,
			      IC_SHUTDOWN_MESSAGE_BYTES);
	spin_lock(&sd->lock);
	sd->action = action;
	sd->reason_code = request->reason_code;
	sd->host_timeout = request->timeout_seconds;
	sd->flags = request->flags;
	viridian_ic_display_message(sd->message, sizeof(sd->message),
				    request->display_message, message_bytes);
	spin_unlock(&sd->lock);

	sd->act_pending = true;
	viridian_ic_mark_response(msg->hdr, IC_S_OK);
	return VIRIDIAN_IC_REPLY;
}

static void ic_shutdown_after_reply(struct viridian_ic_device *icd)
{
	struct ic_shutdown *sd = icd->priv;

	if (sd->act_pending) {
		sd->act_pending = false;
		schedule_work(&sd->action_work);
	}
}

static int ic_shutdown_init(struct viridian_ic_device *icd)
{
	struct ic_shutdown *sd;

	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return -ENOMEM;
	sd->icd = icd;
	spin_lock_init(&sd->lock);
	INIT_WORK(&sd->action_work, ic_shutdown_action_work);
	INIT_DELAYED_WORK(&sd->fallback_work, ic_shutdown_fallback_work);
	/* Decided once here: the checks may sleep, the callback may not. */
	sd->can_hibernate = ic_kernel_can_hibernate();
	icd->priv = sd;
	return 0;
}

static void ic_shutdown_deinit(struct viridian_ic_device *icd)
{
	struct ic_shutdown *sd = icd->priv;

	cancel_work_sync(&sd->action_work);
	/*
	 * A bus that removes devices while the kernel restarts could get here
	 * from the fallback itself, which must not wait for its own end.
	 */
	if (current_work() == &sd->fallback_work.work)
		cancel_delayed_work(&sd->fallback_work);
	else
		cancel_delayed_work_sync(&sd->fallback_work);
	icd->priv = NULL;
	kfree(sd);
}

static const struct hv_vmbus_device_id ic_shutdown_ids[] = {
	{ .guid = VMBUS_CLASS_SHUTDOWN },
	{ }
};
MODULE_DEVICE_TABLE(vmbus, ic_shutdown_ids);

struct viridian_ic_service viridian_ic_shutdown_service = {
	.driver = {
		.name = "viridian_ic_shutdown",
		.id_table = ic_shutdown_ids,
		.probe = viridian_ic_probe,
		.remove = viridian_ic_remove,
		.driver = {
			.probe_type = PROBE_PREFER_ASYNCHRONOUS,
		},
	},
	.name = "shutdown",
	.msgtype = ICMSGTYPE_SHUTDOWN,
	.versions = ic_shutdown_versions,
	.nr_versions = ARRAY_SIZE(ic_shutdown_versions),
	.init = ic_shutdown_init,
	.deinit = ic_shutdown_deinit,
	.handle = ic_shutdown_handle,
	.after_reply = ic_shutdown_after_reply,
};
