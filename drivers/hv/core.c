// SPDX-License-Identifier: GPL-2.0
/*
 * viridian_hv core: chooses a back end and routes the public hypercall-layer
 * API through whichever one is bound.
 *
 * Callers of the API may run in any context, including hard IRQ, while the
 * back end can go away under them (PCI removal). The bound back end is
 * therefore published through an RCU pointer: every API call holds the RCU
 * read lock while it uses the back end, and unbinding unpublishes it and
 * waits for a grace period before anything it owns is released.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/rcupdate.h>
#include <linux/string.h>
#include <linux/version.h>
#include <viridian/hv.h>

#include "internal.h"

/* Hypervisor MSRs and CPUID leaves live in this range; nothing else passes. */
#define VIRIDIAN_HV_RANGE_FIRST		0x40000000u
#define VIRIDIAN_HV_RANGE_LAST		0x4000ffffu

static DEFINE_MUTEX(viridian_bind_lock);
static struct viridian_hv_backend *viridian_bound;	/* under viridian_bind_lock */
static struct viridian_hv_backend __rcu *viridian_active;
static bool viridian_hyperv_in_use;
static bool viridian_sim_in_use;
/* The crash path reads the hook without the lock: it may not take one. */
static DEFINE_MUTEX(viridian_unload_lock);
static void (*viridian_unload_hook)(bool crash);

/* The kernel we are built for, which vermagic makes the one we run on. */
u64 viridian_hv_guest_os_id(void)
{
	u64 version = KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL,
				     LINUX_VERSION_SUBLEVEL);

	return HV_GUEST_OS_ID_OPEN_SOURCE | HV_GUEST_OS_ID_LINUX |
	       (version << HV_GUEST_OS_ID_VERSION_SHIFT);
}

static bool viridian_hv_in_range(u32 index)
{
	return index >= VIRIDIAN_HV_RANGE_FIRST && index <= VIRIDIAN_HV_RANGE_LAST;
}

const char *viridian_hv_backend_name(void)
{
	struct viridian_hv_backend *be;
	const char *name = "none";

	rcu_read_lock();
	be = rcu_dereference(viridian_active);
	if (be)
		name = be->name;
	rcu_read_unlock();
	return name;
}
EXPORT_SYMBOL_GPL(viridian_hv_backend_name);

bool viridian_hv_ready(void)
{
	return rcu_access_pointer(viridian_active);
}
EXPORT_SYMBOL_GPL(viridian_hv_ready);

int viridian_hv_rdmsr(u32 msr, u64 *value)
{
	struct viridian_hv_backend *be;
	int ret = -EIO;

	*value = 0;
	if (!viridian_hv_in_range(msr))
		return -EIO;
	rcu_read_lock();
	be = rcu_dereference(viridian_active);
	if (be)
		ret = be->ops->read_msr(be, msr, value);
	rcu_read_unlock();
	return ret ? -EIO : 0;
}
EXPORT_SYMBOL_GPL(viridian_hv_rdmsr);

int viridian_hv_wrmsr(u32 msr, u64 value)
{
	struct viridian_hv_backend *be;
	int ret = -EIO;

	if (!viridian_hv_in_range(msr))
		return -EIO;
	rcu_read_lock();
	be = rcu_dereference(viridian_active);
	if (be)
		ret = be->ops->write_msr(be, msr, value);
	rcu_read_unlock();
	return ret ? -EIO : 0;
}
EXPORT_SYMBOL_GPL(viridian_hv_wrmsr);

void viridian_hv_cpuid(u32 leaf, u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	struct viridian_hv_backend *be;
	u32 regs[4] = { 0 };

	if (viridian_hv_in_range(leaf)) {
		rcu_read_lock();
		be = rcu_dereference(viridian_active);
		if (be && be->ops->cpuid(be, leaf, 0, regs))
			memset(regs, 0, sizeof(regs));
		rcu_read_unlock();
	}
	*eax = regs[0];
	*ebx = regs[1];
	*ecx = regs[2];
	*edx = regs[3];
}
EXPORT_SYMBOL_GPL(viridian_hv_cpuid);

u16 viridian_hv_post_message(u32 connection_id, u32 message_type,
			     const void *payload, u32 payload_size)
{
	struct hv_input_post_message *input;
	struct viridian_hv_backend *be;
	unsigned long flags;
	u64 result;

	if (payload_size > HV_MESSAGE_PAYLOAD_BYTES || (payload_size && !payload))
		return HV_STATUS_INVALID_PARAMETER;

	rcu_read_lock();
	be = rcu_dereference(viridian_active);
	if (!be) {
		rcu_read_unlock();
		return HV_STATUS_ACCESS_DENIED;
	}
	/*
	 * The input page belongs to this CPU; an interrupt handler here could
	 * post too, so it stays ours only with interrupts off.
	 */
	local_irq_save(flags);
	input = viridian_synic_post_input();
	memset(input, 0, sizeof(*input));
	input->connection_id = connection_id;
	input->message_type = message_type;
	input->payload_size = payload_size;
	if (payload_size)
		memcpy(input->payload, payload, payload_size);
	result = be->ops->hypercall(be, HVCALL_POST_MESSAGE, input, NULL);
	local_irq_restore(flags);
	rcu_read_unlock();
	return result & HV_HYPERCALL_STATUS_MASK;
}
EXPORT_SYMBOL_GPL(viridian_hv_post_message);

u16 viridian_hv_signal_event(u32 connection_id, u16 flag_number)
{
	struct viridian_hv_backend *be;
	u16 status = HV_STATUS_ACCESS_DENIED;

	rcu_read_lock();
	be = rcu_dereference(viridian_active);
	if (be)
		status = be->ops->signal_event(be, connection_id, flag_number);
	rcu_read_unlock();
	return status;
}
EXPORT_SYMBOL_GPL(viridian_hv_signal_event);

u64 viridian_hv_reference_time(void)
{
	u64 now;

	if (viridian_hv_rdmsr(HV_MSR_TIME_REF_COUNT, &now))
		return 0;
	return now;
}
EXPORT_SYMBOL_GPL(viridian_hv_reference_time);

/* Proves the trap path works and learns what the hypervisor is. */
static int viridian_hv_identify(struct viridian_hv_backend *be, u32 version[4])
{
	u32 vendor[4], interface[4];
	int ret;

	ret = be->ops->cpuid(be, HV_CPUID_VENDOR_AND_MAX, 0, vendor);
	if (!ret)
		ret = be->ops->cpuid(be, HV_CPUID_INTERFACE, 0, interface);
	if (!ret)
		ret = be->ops->cpuid(be, HV_CPUID_VERSION, 0, version);
	if (ret) {
		pr_err("%s back end: the hypervisor does not answer CPUID (%d)\n",
		       be->name, ret);
		return ret;
	}
	if (vendor[1] != HV_CPUID_SIGNATURE_EBX || vendor[2] != HV_CPUID_SIGNATURE_ECX ||
	    vendor[3] != HV_CPUID_SIGNATURE_EDX || interface[0] != HV_CPUID_INTERFACE_HV1)
		pr_warn("%s back end: hypervisor is not \"Microsoft Hv\"/Hv#1; continuing\n",
			be->name);
	if (vendor[0] < HV_CPUID_VERSION)
		memset(version, 0, 4 * sizeof(u32));
	return 0;
}

int viridian_hv_bind(struct viridian_hv_backend *be)
{
	u32 version[4];
	int ret;

	mutex_lock(&viridian_bind_lock);
	if (viridian_bound) {
		pr_info("%s back end not bound: %s is already\n", be->name,
			viridian_bound->name);
		ret = -EBUSY;
		goto out;
	}
	ret = viridian_hv_identify(be, version);
	if (ret)
		goto out;
	ret = viridian_synic_start(be);
	if (ret) {
		pr_err("%s back end: SynIC set-up failed (%d)\n", be->name, ret);
		goto out;
	}
	viridian_bound = be;
	rcu_assign_pointer(viridian_active, be);
	pr_info("%s back end bound: %u VPs, hypervisor version %u.%u build %u\n",
		be->name, be->nr_vps, version[1] >> 16, version[1] & 0xffff,
		version[0]);
out:
	mutex_unlock(&viridian_bind_lock);
	return ret;
}

void viridian_hv_unbind(struct viridian_hv_backend *be)
{
	mutex_lock(&viridian_bind_lock);
	if (viridian_bound == be) {
		RCU_INIT_POINTER(viridian_active, NULL);
		/* Waits a grace period: no API call still uses the back end. */
		viridian_synic_stop();
		viridian_bound = NULL;
		pr_info("%s back end unbound\n", be->name);
	}
	mutex_unlock(&viridian_bind_lock);
}

int viridian_hv_register_unload(void (*unload)(bool crash))
{
	int ret = 0;

	if (!unload)
		return -EINVAL;
	mutex_lock(&viridian_unload_lock);
	if (viridian_unload_hook)
		ret = -EBUSY;
	else
		WRITE_ONCE(viridian_unload_hook, unload);
	mutex_unlock(&viridian_unload_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(viridian_hv_register_unload);

void viridian_hv_unregister_unload(void)
{
	mutex_lock(&viridian_unload_lock);
	WRITE_ONCE(viridian_unload_hook, NULL);
	mutex_unlock(&viridian_unload_lock);
}
EXPORT_SYMBOL_GPL(viridian_hv_unregister_unload);

/* Process context (the reboot syscall): the hook may sleep for its answer. */
void viridian_hv_kexec_teardown(void)
{
	mutex_lock(&viridian_unload_lock);
	if (viridian_unload_hook)
		viridian_unload_hook(false);
	mutex_unlock(&viridian_unload_lock);
	viridian_synic_shutdown_all();
}

void viridian_hv_crash_teardown(void)
{
	void (*unload)(bool crash) = READ_ONCE(viridian_unload_hook);

	if (unload)
		unload(true);
	viridian_synic_shutdown_this_cpu();
}

/*
 * Linux's own VMBus driver would take the SynIC of every CPU from under us
 * and contact the host a second time. The packaged modprobe.d keeps it out
 * by name and as a dependency; this stops it however it is loaded, as long
 * as we hold the hypervisor.
 */
static int viridian_module_notify(struct notifier_block *nb, unsigned long action,
				  void *data)
{
	struct module *mod = data;

	if (action != MODULE_STATE_COMING || strcmp(mod->name, "hv_vmbus"))
		return NOTIFY_DONE;
	if (!rcu_access_pointer(viridian_active))
		return NOTIFY_DONE;
	pr_err("hv_vmbus refused: the %s back end of viridian_hv owns the SynIC (unload viridian_vmbus and viridian_hv first)\n",
	       viridian_hv_backend_name());
	return notifier_from_errno(-EBUSY);
}

static struct notifier_block viridian_module_nb = {
	.notifier_call = viridian_module_notify,
};

static int viridian_backend_param_get(char *buffer, const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%s\n", viridian_hv_backend_name());
}

static int viridian_backend_param_set(const char *value, const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops viridian_backend_param_ops = {
	.get = viridian_backend_param_get,
	.set = viridian_backend_param_set,
};
module_param_cb(backend, &viridian_backend_param_ops, NULL, 0444);
MODULE_PARM_DESC(backend, "The bound back end, read-only: hyperv, hvsim or none");

static int __init viridian_hv_init(void)
{
	int ret;

	ret = register_module_notifier(&viridian_module_nb);
	if (ret)
		return ret;
	ret = viridian_hyperv_backend_init();
	if (!ret) {
		viridian_hyperv_in_use = true;
		return 0;
	}
	if (ret != -ENODEV) {
		/*
		 * Hyper-V, but one we do not drive: stay loaded with no back
		 * end, so that the packaged modprobe.d lets Linux's hv_vmbus
		 * take the VM instead (it reads "none" from our backend
		 * parameter), rather than leave it without VMBus.
		 */
		pr_warn("Hyper-V not driven by this suite (%d): leaving the VM to the in-kernel hv_vmbus\n",
			ret);
		return 0;
	}
	/* No Hyper-V: wait for host-sim's PCI device instead. */
	ret = viridian_sim_backend_init();
	if (ret) {
		unregister_module_notifier(&viridian_module_nb);
		return ret;
	}
	viridian_sim_in_use = true;
	return 0;
}
module_init(viridian_hv_init);

static void __exit viridian_hv_exit(void)
{
	if (viridian_hyperv_in_use)
		viridian_hyperv_backend_exit();
	if (viridian_sim_in_use)
		viridian_sim_backend_exit();
	unregister_module_notifier(&viridian_module_nb);
}
module_exit(viridian_hv_exit);

MODULE_DESCRIPTION("Viridian hypercall layer: Hyper-V and host-sim back ends, SynIC");
MODULE_LICENSE("GPL");
