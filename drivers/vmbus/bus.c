// SPDX-License-Identifier: GPL-2.0
/*
 * The "vmbus" bus type, driver registration and the module's life cycle.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/acpi.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/suspend.h>

#include <viridian/compat.h>
#include <viridian/hv.h>
#include "vmbus_private.h"

static char *max_version = "5.3";
static u32 vmbus_max_version;
module_param(max_version, charp, 0444);
MODULE_PARM_DESC(max_version,
		 "Highest VMBus protocol version to offer the host, as \"major.minor\" (\"5.3\", \"5.0\", \"4.1\", \"4.0\", \"3.0\", \"2.4\", ...) or the protocol word (0x50003). Default 5.3.");

/* What a driver matched through driver_override alone gets as its ID. */
static const struct hv_vmbus_device_id vmbus_override_id;

static const struct hv_vmbus_device_id *
vmbus_match_id(const struct viridian_driver *drv,
	       const struct viridian_device *vdev)
{
	const struct hv_vmbus_device_id *id = drv->id_table;

	if (vdev->driver_override)
		return strcmp(vdev->driver_override, drv->name) ? NULL :
		       &vmbus_override_id;
	if (!id)
		return NULL;
	for (; !guid_is_null(&id->guid); id++)
		if (guid_equal(&id->guid, &vdev->class_id))
			return id;
	return NULL;
}

static int vmbus_match(struct device *dev, viridian_match_driver *drv)
{
	return vmbus_match_id(to_viridian_driver(drv),
			      to_viridian_device(dev)) != NULL;
}

/* Exactly what modpost writes for MODULE_DEVICE_TABLE(vmbus, ...). */
static int vmbus_uevent(viridian_uevent_device *dev, struct kobj_uevent_env *env)
{
	return add_uevent_var(env, "MODALIAS=vmbus:%*phN", UUID_SIZE,
			      &to_viridian_device(dev)->class_id);
}

/* No sub-channel handler of a departing driver may run after this. */
static void vmbus_forget_subchannel_handler(struct viridian_device *vdev)
{
	mutex_lock(&vmbus_conn.channel_mutex);
	vdev->channel->sc_handler = NULL;
	mutex_unlock(&vmbus_conn.channel_mutex);
	flush_workqueue(vmbus_conn.sub_wq);
}

static void vmbus_close_leftover(struct viridian_channel *sub, void *arg)
{
	vmbus_channel_force_close(sub);
}

static void vmbus_close_leftovers(struct viridian_device *vdev)
{
	vmbus_walk_subs(vdev->channel, vmbus_close_leftover, NULL);
	vmbus_channel_force_close(vdev->channel);
}

static int vmbus_probe(struct device *dev)
{
	struct viridian_driver *drv = to_viridian_driver(dev->driver);
	struct viridian_device *vdev = to_viridian_device(dev);
	const struct hv_vmbus_device_id *id;
	int ret;

	id = vmbus_match_id(drv, vdev);
	if (!id || !drv->probe)
		return -ENODEV;
	ret = drv->probe(vdev, id);
	if (ret) {
		vmbus_forget_subchannel_handler(vdev);
		vmbus_close_leftovers(vdev);
	}
	return ret;
}

static void vmbus_remove(struct device *dev)
{
	struct viridian_driver *drv = to_viridian_driver(dev->driver);
	struct viridian_device *vdev = to_viridian_device(dev);

	vmbus_forget_subchannel_handler(vdev);
	if (drv->remove)
		drv->remove(vdev);
	/* A driver that forgot to close would leave the host writing. */
	vmbus_close_leftovers(vdev);
}

static void vmbus_shutdown(struct device *dev)
{
	struct viridian_driver *drv;

	if (!dev->driver)
		return;
	drv = to_viridian_driver(dev->driver);
	if (drv->shutdown)
		drv->shutdown(to_viridian_device(dev));
}

struct bus_type vmbus_bus = {
	.name = "vmbus",
	.match = vmbus_match,
	.uevent = vmbus_uevent,
	.probe = vmbus_probe,
	.remove = vmbus_remove,
	.shutdown = vmbus_shutdown,
	.dev_groups = vmbus_dev_groups,
	.bus_groups = vmbus_bus_groups,
};

int __viridian_driver_register(struct viridian_driver *drv,
			       struct module *owner, const char *mod_name)
{
	if (!drv || !drv->name)
		return -EINVAL;
	drv->driver.name = drv->name;
	drv->driver.bus = &vmbus_bus;
	drv->driver.owner = owner;
	drv->driver.mod_name = mod_name;
	return driver_register(&drv->driver);
}
EXPORT_SYMBOL_GPL(__viridian_driver_register);

void viridian_driver_unregister(struct viridian_driver *drv)
{
	driver_unregister(&drv->driver);
}
EXPORT_SYMBOL_GPL(viridian_driver_unregister);

static int vmbus_request_offers(void)
{
	struct vmbus_channel_message_header msg = {
		.msgtype = CHANNELMSG_REQUESTOFFERS,
	};

	return vmbus_post_msg(&msg, sizeof(msg));
}

/* Stop taking SynIC interrupts and drain what they queued. */
static void vmbus_stop_interrupts(void)
{
	viridian_synic_disable_sint(VMBUS_MESSAGE_SINT);
	viridian_synic_unregister_handler();
	/* A handler that was already running is an RCU reader: wait it out. */
	synchronize_rcu();
	vmbus_kill_msg_tasklets();
	flush_workqueue(vmbus_conn.msg_wq);
	flush_workqueue(vmbus_conn.dev_wq);
	flush_workqueue(vmbus_conn.sub_wq);
}

/*
 * Suspend and hibernation would need the connection taken down before the
 * image and made again after it (UNLOAD, then INITIATE_CONTACT, with the new
 * offers matched to the devices we had), which this bus does not do yet.
 * Refuse them rather than wake up to a host that no longer knows our
 * channels.
 */
static int vmbus_pm_notify(struct notifier_block *nb, unsigned long action,
			   void *data)
{
	if (action != PM_SUSPEND_PREPARE && action != PM_HIBERNATION_PREPARE)
		return NOTIFY_DONE;
	pr_warn("%s refused: the VMBus driver cannot suspend its channels yet\n",
		action == PM_SUSPEND_PREPARE ? "suspend" : "hibernation");
	return notifier_from_errno(-EOPNOTSUPP);
}

static struct notifier_block vmbus_pm_nb = {
	.notifier_call = vmbus_pm_notify,
};

bool viridian_vmbus_can_suspend(void)
{
	return false;
}
EXPORT_SYMBOL_GPL(viridian_vmbus_can_suspend);

/*
 * The bus proper: the connection to the host and everything on it. Started
 * once, by the ACPI VMBus device's probe (Hyper-V, and host-sim, which
 * describes the same device) or, on a host-sim guest without that device,
 * by module init.
 */
static int vmbus_start(void)
{
	int ret;

	ret = vmbus_connection_init();
	if (ret)
		return ret;
	ret = bus_register(&vmbus_bus);
	if (ret)
		goto exit_connection;
	vmbus_conn.root = root_device_register("vmbus");
	if (IS_ERR(vmbus_conn.root)) {
		ret = PTR_ERR(vmbus_conn.root);
		vmbus_conn.root = NULL;
		goto unregister_bus;
	}

	ret = viridian_synic_register_handler(vmbus_isr);
	if (ret) {
		pr_err("SynIC handler already taken: %d\n", ret);
		goto unregister_root;
	}
	ret = viridian_synic_enable_sint(VMBUS_MESSAGE_SINT);
	if (ret) {
		pr_err("enabling SINT %u failed: %d\n", VMBUS_MESSAGE_SINT, ret);
		viridian_synic_unregister_handler();
		synchronize_rcu();
		goto unregister_root;
	}

	ret = vmbus_cpuhp_init();
	if (ret) {
		pr_err("no CPU hotplug state: %d\n", ret);
		goto stop_interrupts;
	}
	ret = vmbus_connect(vmbus_max_version);
	if (ret)
		goto stop_interrupts;
	ret = vmbus_request_offers();
	if (ret) {
		pr_err("REQUESTOFFERS failed: %d\n", ret);
		goto unload;
	}
	ret = register_pm_notifier(&vmbus_pm_nb);
	if (ret) {
		pr_err("cannot watch for suspend and hibernation: %d\n", ret);
		goto unload;
	}
	ret = viridian_hv_register_unload(vmbus_unload_for_next_kernel);
	if (ret) {
		pr_err("cannot hook kexec and crash: %d\n", ret);
		goto unregister_pm;
	}
	pr_info("bus up on the %s back end\n", viridian_hv_backend_name());
	return 0;

unregister_pm:
	unregister_pm_notifier(&vmbus_pm_nb);
unload:
	vmbus_remove_all_devices();
	vmbus_unload();
stop_interrupts:
	vmbus_stop_interrupts();
	vmbus_free_all_channels();
	vmbus_cpuhp_exit();
unregister_root:
	root_device_unregister(vmbus_conn.root);
unregister_bus:
	bus_unregister(&vmbus_bus);
exit_connection:
	vmbus_connection_exit();
	return ret;
}

static void vmbus_stop(void)
{
	viridian_hv_unregister_unload();
	unregister_pm_notifier(&vmbus_pm_nb);
	vmbus_remove_all_devices();
	vmbus_unload();
	vmbus_stop_interrupts();
	vmbus_free_all_channels();
	vmbus_cpuhp_exit();
	root_device_unregister(vmbus_conn.root);
	bus_unregister(&vmbus_bus);
	vmbus_connection_exit();
	pr_info("bus down\n");
}

static DEFINE_MUTEX(vmbus_start_lock);
static bool vmbus_started;		/* under vmbus_start_lock */

static int vmbus_start_once(const char *how)
{
	int ret;

	mutex_lock(&vmbus_start_lock);
	if (vmbus_started) {
		pr_err("a second VMBus device (%s) ignored\n", how);
		ret = -EBUSY;
	} else if (!viridian_hv_ready()) {
		pr_err("no hypervisor back end (viridian_hv found neither Hyper-V it drives nor the host-sim device): VMBus left alone\n");
		ret = -ENODEV;
	} else {
		ret = vmbus_start();
		vmbus_started = !ret;
	}
	mutex_unlock(&vmbus_start_lock);
	return ret;
}

static void vmbus_stop_once(void)
{
	mutex_lock(&vmbus_start_lock);
	if (vmbus_started)
		vmbus_stop();
	vmbus_started = false;
	mutex_unlock(&vmbus_start_lock);
}

static int vmbus_platform_probe(struct platform_device *pdev)
{
	vmbus_acpi_find_mmio(&pdev->dev);
	return vmbus_start_once(dev_name(&pdev->dev));
}

/* The ACPI IDs Hyper-V gives its VMBus device, as Linux's vmbus_drv has them. */
static const struct acpi_device_id vmbus_acpi_ids[] = {
	{ "VMBUS", 0 },
	{ "VMBus", 0 },
	{ }
};
MODULE_DEVICE_TABLE(acpi, vmbus_acpi_ids);

static struct platform_driver vmbus_platform_driver = {
	/* No remove: the bus stops at module exit, the only way it unbinds. */
	.probe = vmbus_platform_probe,
	.driver = {
		.name = "viridian_vmbus",
		.acpi_match_table = vmbus_acpi_ids,
		.dev_groups = vmbus_acpi_groups,
		/* No unbind through sysfs: the bus would go from under its devices. */
		.suppress_bind_attrs = true,
	},
};

static int __init vmbus_init(void)
{
	bool started;
	int ret;

	if (vmbus_proto_parse_version(max_version, &vmbus_max_version) ||
	    !vmbus_proto_next_version(0, vmbus_max_version)) {
		pr_err("max_version=%s names no version we speak (5.3 down to 2.4)\n",
		       max_version);
		return -EINVAL;
	}

	/* Probes the ACPI VMBus device, if there is one, before returning. */
	ret = platform_driver_register(&vmbus_platform_driver);
	if (ret)
		return ret;
	mutex_lock(&vmbus_start_lock);
	started = vmbus_started;
	mutex_unlock(&vmbus_start_lock);
	if (started)
		return 0;

	/*
	 * No ACPI VMBus device, or it could not start. A Hyper-V VM always
	 * has the device; host-sim's guests without it start on its PCI
	 * device alone.
	 */
	if (!strcmp(viridian_hv_backend_name(), "hvsim")) {
		pr_info("no ACPI VMBus device: starting on the host-sim device\n");
		ret = vmbus_start_once("host-sim PCI device");
	} else {
		ret = -ENODEV;
		if (!viridian_hv_ready())
			pr_err("no hypervisor back end: viridian_hv found neither Hyper-V it drives nor the host-sim device\n");
		else
			pr_err("the %s back end is bound, but no ACPI VMBus device is there\n",
			       viridian_hv_backend_name());
	}
	if (ret)
		platform_driver_unregister(&vmbus_platform_driver);
	return ret;
}

static void __exit vmbus_exit(void)
{
	platform_driver_unregister(&vmbus_platform_driver);
	vmbus_stop_once();
}

module_init(vmbus_init);
module_exit(vmbus_exit);

MODULE_DESCRIPTION("Viridian VMBus bus driver");
MODULE_LICENSE("GPL");
/*
 * On Hyper-V, udev loads us for the ACPI VMBus device (the table above).
 * Under host-sim, for its PCI device too, which viridian_hv binds.
 */
MODULE_ALIAS("pci:v00001AF4d00001110sv*sd*bc*sc*i*");
MODULE_SOFTDEP("pre: viridian_hv");
