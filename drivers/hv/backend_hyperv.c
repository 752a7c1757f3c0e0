// SPDX-License-Identifier: GPL-2.0
/*
 * The real Hyper-V back end. It cannot be tested under host-sim, so it
 * stays small and borrows everything the running kernel already set up:
 * Hyper-V detection, the guest OS ID, the hypercall page and its calling
 * helpers, and the callback vector. What the kernel leaves to its own
 * hv_vmbus module (the SynIC) the common SynIC code does through the ops
 * below; hv_vmbus must therefore not be loaded beside us (the package
 * blacklists it), and binding is refused when the SynIC is already on.
 *
 * Not supported, and refused at bind: the root partition and isolated
 * (SNP/TDX) guests, whose SynIC pages and hypercalls need more than this.
 * A refusal is -EPERM, which tells the core to leave the VM to Linux's own
 * hv_vmbus; -ENODEV means there is no Hyper-V here at all.
 *
 * kexec and kdump: the kernel calls the handlers registered here from its
 * machine shutdown; they make the VMBus driver unload (so the host stops
 * writing into this kernel's rings) and turn the SynIC off (so the next
 * kernel's viridian_hv finds it free).
 *
 * This file sees the kernel's own TLFS definitions (<asm/mshyperv.h>)
 * instead of <viridian/wire/hv.h>; the two must not meet.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/cpumask.h>
#include <linux/crash_dump.h>
#include <linux/rcupdate.h>
#include <asm/hypervisor.h>
#include <asm/mshyperv.h>
#include <asm/msr.h>
#include <asm/processor.h>

#include "internal.h"

#define HYPERV_REQUIRED_FEATURES	(HV_MSR_SYNIC_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | \
					 HV_MSR_HYPERCALL_AVAILABLE)
#define HYPERV_REQUIRED_PRIVILEGES	(HV_POST_MESSAGES | HV_SIGNAL_EVENTS)
#define HYPERV_SIMP_ENABLE		BIT_ULL(0)
/* HvSignalEvent's fast input: connection ID in bits 0-31, flag in 32-47. */
#define HYPERV_SIGNAL_FLAG_SHIFT	32

static int hyperv_cpuid(struct viridian_hv_backend *be, u32 leaf, u32 subleaf,
			u32 regs[4])
{
	cpuid_count(leaf, subleaf, &regs[0], &regs[1], &regs[2], &regs[3]);
	return 0;
}

static int hyperv_rdmsr(struct viridian_hv_backend *be, u32 msr, u64 *value)
{
	return rdmsrl_safe(msr, value) ? -EIO : 0;
}

static int hyperv_wrmsr(struct viridian_hv_backend *be, u32 msr, u64 value)
{
	return wrmsrl_safe(msr, value) ? -EIO : 0;
}

static u64 hyperv_hypercall(struct viridian_hv_backend *be, u64 control,
			    void *input, void *output)
{
	return hv_do_hypercall(control, input, output);
}

static u16 hyperv_signal_event(struct viridian_hv_backend *be, u32 connection_id,
			       u16 flag_number)
{
	u64 input = connection_id | ((u64)flag_number << HYPERV_SIGNAL_FLAG_SHIFT);

	return hv_do_fast_hypercall8(HVCALL_SIGNAL_EVENT, input) & HV_HYPERCALL_RESULT_MASK;
}

static const struct viridian_hv_ops hyperv_ops = {
	.cpuid = hyperv_cpuid,
	.read_msr = hyperv_rdmsr,
	.write_msr = hyperv_wrmsr,
	.hypercall = hyperv_hypercall,
	.signal_event = hyperv_signal_event,
};

static struct viridian_hv_backend hyperv_backend = {
	.name = "hyperv",
	.ops = &hyperv_ops,
};

static void hyperv_kexec(void)
{
	viridian_hv_kexec_teardown();
}

static void hyperv_crash(struct pt_regs *regs)
{
	viridian_hv_crash_teardown();
}

static void hyperv_unhook_callback(void)
{
	hv_remove_crash_handler();
	hv_remove_kexec_handler();
	hv_remove_vmbus_handler();
	/*
	 * The callback vector's handler runs with interrupts off, an RCU
	 * read-side section: after a grace period no CPU is still in ours.
	 */
	synchronize_rcu();
}

int viridian_hyperv_backend_init(void)
{
	u64 simp;
	int ret;

	if (!hypervisor_is_type(X86_HYPER_MS_HYPERV))
		return -ENODEV;
	if (!hv_is_hyperv_initialized() || !hv_hypercall_pg) {
		pr_warn("Hyper-V found, but the kernel set up no hypercall page: real back end not used\n");
		return -EPERM;
	}
	if (hv_root_partition || hv_is_isolation_supported()) {
		pr_warn("Hyper-V root partition or isolated guest: not supported, real back end not used\n");
		return -EPERM;
	}
	if ((ms_hyperv.features & HYPERV_REQUIRED_FEATURES) != HYPERV_REQUIRED_FEATURES ||
	    (ms_hyperv.priv_high & HYPERV_REQUIRED_PRIVILEGES) != HYPERV_REQUIRED_PRIVILEGES) {
		pr_warn("Hyper-V grants no SynIC, VP index, post-message or signal-event access (features %#x, privileges %#x): real back end not used\n",
			ms_hyperv.features, ms_hyperv.priv_high);
		return -EPERM;
	}
	if (rdmsrl_safe(HV_X64_MSR_SIMP, &simp)) {
		pr_err("the SIMP MSR cannot be read: real back end not used\n");
		return -EPERM;
	}
	if (simp & HYPERV_SIMP_ENABLE) {
		/*
		 * A kdump kernel inherits the SynIC of the kernel that crashed
		 * if its crash handler did not get that far: take it over.
		 * Anywhere else somebody else (hv_vmbus) drives it.
		 */
		if (!is_kdump_kernel()) {
			pr_err("the SynIC is already in use (is hv_vmbus loaded?): real back end not used\n");
			return -EPERM;
		}
		pr_warn("kdump kernel: taking over the SynIC the crashed kernel left on\n");
	}

	/* When AEOI is deprecated the kernel's callback handler EOIs itself. */
	hyperv_backend.sint_auto_eoi = !(ms_hyperv.hints & HV_DEPRECATING_AEOI_RECOMMENDED);
	hyperv_backend.nr_vps = num_present_cpus();
	hyperv_backend.sint_vector = HYPERVISOR_CALLBACK_VECTOR;
	hv_setup_vmbus_handler(viridian_synic_isr);
	hv_setup_kexec_handler(hyperv_kexec);
	hv_setup_crash_handler(hyperv_crash);
	ret = viridian_hv_bind(&hyperv_backend);
	if (ret) {
		hyperv_unhook_callback();
		/* A SynIC that would not start is not ours to drive either. */
		return -EPERM;
	}
	return 0;
}

void viridian_hyperv_backend_exit(void)
{
	/* SINTs are masked first, so no new callback arrives for us. */
	viridian_hv_unbind(&hyperv_backend);
	hyperv_unhook_callback();
}
