// SPDX-License-Identifier: GPL-2.0
/*
 * The SynIC, common to both back ends: per-CPU message (SIMP) and event
 * flag (SIEFP) pages, the SINTs the client asks for, and the one interrupt
 * all SINTs share.
 *
 * SynIC registers are per virtual processor, so every access runs on the
 * CPU it configures: a CPU-hotplug state sets a CPU up when it comes online
 * (and, at start, on every CPU already online) and takes it down before it
 * goes offline; SINT changes run on each online CPU through work_on_cpu().
 *
 * A CPU goes offline only with nothing pending in its pages: an event flag
 * or a message still there would be lost with the CPU, so the offline is
 * refused (-EBUSY, as Linux's hv_vmbus does) and the user retries once the
 * interrupt has been handled. Moving channels off a CPU before it goes
 * offline is the VMBus driver's business. Pages are allocated for every
 * possible CPU at start and kept until stop, contents included: a CPU
 * that comes back finds there whatever the hypervisor left for it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>
#include <viridian/hv.h>

#include "internal.h"

#define SINT_CONTROL_BITS	(HV_SINT_VECTOR_MASK | HV_SINT_MASKED | \
				 HV_SINT_AUTO_EOI | HV_SINT_POLLING)
#define SIMP_BITS		(HV_MSR_PAGE_GPA_MASK | HV_MSR_SIMP_ENABLE)
#define SIEFP_BITS		(HV_MSR_PAGE_GPA_MASK | HV_MSR_SIEFP_ENABLE)

struct synic_cpu {
	struct hv_message_page *message_page;
	struct hv_synic_event_flags_page *event_page;
	struct hv_input_post_message *post_input;
	u32 vp_index;
};

static DEFINE_PER_CPU(struct synic_cpu, synic_cpus);

/* Serialises start, stop and SINT changes. */
static DEFINE_MUTEX(synic_lock);
/* Set while the hotplug state exists; set-up paths and callbacks use it. */
static struct viridian_hv_backend *synic_be;
/*
 * The same back end for the interrupt path (the handler and EOM), which
 * must work before the core publishes the back end and must stop before
 * the pages go away.
 */
static struct viridian_hv_backend __rcu *synic_live_be;
static int synic_hp_state;
/* Set by stop: the CPUs' teardown then never refuses. */
static bool synic_stopping;
/*
 * The SINTs the client wants unmasked. Written under synic_lock with CPU
 * hotplug held off, so the hotplug callbacks read it without the mutex.
 */
static unsigned long synic_sints;
static void (*synic_handler)(void);

/* Read-modify-write: the TLFS asks reserved bits to be preserved. */
static int synic_msr_update(struct viridian_hv_backend *be, u32 msr, u64 clear,
			    u64 set)
{
	u64 value;
	int ret;

	ret = be->ops->read_msr(be, msr, &value);
	if (ret)
		return ret;
	return be->ops->write_msr(be, msr, (value & ~clear) | set);
}

/*
 * Masking sets the mask bit alone, as Linux does: the vector and flags stay
 * as they were, so a hypervisor that looks at a masked SINT sees a valid
 * configuration.
 */
static int synic_program_sint(struct viridian_hv_backend *be, unsigned int sint,
			      bool unmask)
{
	u64 set;

	if (!unmask)
		return synic_msr_update(be, HV_MSR_SINT0 + sint, 0, HV_SINT_MASKED);
	set = be->sint_vector;
	if (be->sint_auto_eoi)
		set |= HV_SINT_AUTO_EOI;
	return synic_msr_update(be, HV_MSR_SINT0 + sint, SINT_CONTROL_BITS, set);
}

/* Best effort: used on the way down, where nothing can be undone anyway. */
static void synic_cpu_disable(struct viridian_hv_backend *be)
{
	unsigned long sints = READ_ONCE(synic_sints);
	unsigned int sint;

	for_each_set_bit(sint, &sints, HV_SYNIC_SINT_COUNT)
		synic_program_sint(be, sint, false);
	synic_msr_update(be, HV_MSR_SIMP, SIMP_BITS, 0);
	synic_msr_update(be, HV_MSR_SIEFP, SIEFP_BITS, 0);
	synic_msr_update(be, HV_MSR_SCONTROL, HV_MSR_SCONTROL_ENABLE, 0);
}

/* Hotplug "online" callback: runs on @cpu, in process context. */
static int synic_cpu_online(unsigned int cpu)
{
	struct synic_cpu *sc = per_cpu_ptr(&synic_cpus, cpu);
	struct viridian_hv_backend *be = synic_be;
	unsigned long sints = READ_ONCE(synic_sints);
	unsigned int sint;
	u64 vp_index;
	int ret;

	if (be->ops->cpu_online) {
		ret = be->ops->cpu_online(be, cpu);
		if (ret)
			goto fail;
	}
	if (be->owns_guest_os_id) {
		/*
		 * The TLFS makes the ID partition-wide; writing it from every
		 * VP costs a trap and suits a simulator that keeps it per VP.
		 */
		ret = be->ops->write_msr(be, HV_MSR_GUEST_OS_ID, viridian_hv_guest_os_id());
		if (ret)
			goto fail;
	}
	ret = be->ops->read_msr(be, HV_MSR_VP_INDEX, &vp_index);
	if (ret)
		goto fail;
	if (vp_index >= U32_MAX) {
		ret = -ERANGE;
		goto fail;
	}
	WRITE_ONCE(sc->vp_index, vp_index);

	ret = synic_msr_update(be, HV_MSR_SIMP, SIMP_BITS,
			       virt_to_phys(sc->message_page) | HV_MSR_SIMP_ENABLE);
	if (ret)
		goto fail;
	ret = synic_msr_update(be, HV_MSR_SIEFP, SIEFP_BITS,
			       virt_to_phys(sc->event_page) | HV_MSR_SIEFP_ENABLE);
	if (ret)
		goto fail;
	for_each_set_bit(sint, &sints, HV_SYNIC_SINT_COUNT) {
		ret = synic_program_sint(be, sint, true);
		if (ret)
			goto fail;
	}
	ret = synic_msr_update(be, HV_MSR_SCONTROL, 0, HV_MSR_SCONTROL_ENABLE);
	if (ret)
		goto fail;
	return 0;

fail:
	pr_err("CPU%u: SynIC set-up failed (%d)\n", cpu, ret);
	synic_cpu_disable(be);
	return ret;
}

/* Anything for the enabled SINTs in this CPU's pages that nobody took yet. */
static bool synic_cpu_pending(struct synic_cpu *sc)
{
	unsigned long sints = READ_ONCE(synic_sints);
	unsigned int sint, word;

	for_each_set_bit(sint, &sints, HV_SYNIC_SINT_COUNT) {
		const u32 *flags = (const u32 *)&sc->event_page->sintevent_flags[sint];

		if (READ_ONCE(sc->message_page->sint_message[sint].header.message_type) !=
		    HVMSG_NONE)
			return true;
		for (word = 0; word < sizeof(struct hv_synic_event_flags) / sizeof(u32); word++)
			if (READ_ONCE(flags[word]))
				return true;
	}
	return false;
}

/*
 * Hotplug "offline" callback: runs on @cpu before it leaves. What is
 * pending is checked before and after the SynIC goes off: something that
 * arrived in between is handled here, on a SynIC turned back on, and the
 * offline refused.
 */
static int synic_cpu_offline(unsigned int cpu)
{
	struct synic_cpu *sc = per_cpu_ptr(&synic_cpus, cpu);
	struct viridian_hv_backend *be = synic_be;

	if (!READ_ONCE(synic_stopping) && synic_cpu_pending(sc)) {
		pr_info_ratelimited("CPU%u stays online: SynIC events or messages pending\n",
				    cpu);
		return -EBUSY;
	}
	synic_cpu_disable(be);
	if (READ_ONCE(synic_stopping) || !synic_cpu_pending(sc))
		return 0;
	if (synic_cpu_online(cpu))
		return -EBUSY;
	/* Its interrupt may have been dropped while the SINT was masked. */
	local_irq_disable();
	viridian_synic_isr();
	local_irq_enable();
	pr_info_ratelimited("CPU%u stays online: SynIC events arrived while it went offline\n",
			    cpu);
	return -EBUSY;
}

static void synic_free_pages(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct synic_cpu *sc = per_cpu_ptr(&synic_cpus, cpu);
		void *message_page = sc->message_page;
		void *event_page = sc->event_page;
		void *post_input = sc->post_input;

		WRITE_ONCE(sc->message_page, NULL);
		WRITE_ONCE(sc->event_page, NULL);
		WRITE_ONCE(sc->post_input, NULL);
		free_page((unsigned long)message_page);
		free_page((unsigned long)event_page);
		free_page((unsigned long)post_input);
	}
}

/*
 * Whole pages: the SynIC needs page-aligned GPAs, and hypercall input must
 * not cross a page boundary.
 */
static int synic_alloc_pages(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct synic_cpu *sc = per_cpu_ptr(&synic_cpus, cpu);

		sc->message_page = (void *)get_zeroed_page(GFP_KERNEL);
		sc->event_page = (void *)get_zeroed_page(GFP_KERNEL);
		sc->post_input = (void *)get_zeroed_page(GFP_KERNEL);
		sc->vp_index = U32_MAX;
		if (!sc->message_page || !sc->event_page || !sc->post_input) {
			synic_free_pages();
			return -ENOMEM;
		}
	}
	return 0;
}

int viridian_synic_start(struct viridian_hv_backend *be)
{
	int ret;

	mutex_lock(&synic_lock);
	ret = synic_alloc_pages();
	if (ret)
		goto out;
	synic_be = be;
	WRITE_ONCE(synic_stopping, false);
	rcu_assign_pointer(synic_live_be, be);
	/* Runs synic_cpu_online() on every online CPU, undoing all on failure. */
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "viridian/hv:online",
				synic_cpu_online, synic_cpu_offline);
	if (ret < 0) {
		RCU_INIT_POINTER(synic_live_be, NULL);
		synchronize_rcu();
		synic_be = NULL;
		synic_free_pages();
		goto out;
	}
	synic_hp_state = ret;
	ret = 0;
out:
	mutex_unlock(&synic_lock);
	return ret;
}

void viridian_synic_stop(void)
{
	mutex_lock(&synic_lock);
	if (synic_be) {
		WRITE_ONCE(synic_stopping, true);
		/* Runs synic_cpu_offline() on every online CPU. */
		cpuhp_remove_state(synic_hp_state);
		RCU_INIT_POINTER(synic_live_be, NULL);
		/*
		 * Interrupt handlers run with interrupts off, which RCU treats
		 * as a read-side section: after a grace period none is still
		 * looking at the pages, nor is any API call using the back end.
		 */
		synchronize_rcu();
		synic_be = NULL;
		synic_free_pages();
	}
	mutex_unlock(&synic_lock);
}

static void synic_cpu_shutdown(void *unused)
{
	struct viridian_hv_backend *be = rcu_dereference_raw(synic_live_be);

	if (be)
		synic_cpu_disable(be);
}

/*
 * kexec: every CPU's SynIC off, from IPIs (nothing may sleep or take the
 * mutex now), so the next kernel finds it free and the hypervisor writes
 * into none of this kernel's pages. The pages are not freed: this kernel
 * is about to end.
 */
void viridian_synic_shutdown_all(void)
{
	WRITE_ONCE(synic_stopping, true);
	on_each_cpu(synic_cpu_shutdown, NULL, 1);
}

/* Crash (kdump): other CPUs are stopped already; this one is all we reach. */
void viridian_synic_shutdown_this_cpu(void)
{
	WRITE_ONCE(synic_stopping, true);
	synic_cpu_shutdown(NULL);
}

void *viridian_synic_post_input(void)
{
	return this_cpu_read(synic_cpus.post_input);
}

void viridian_synic_isr(void)
{
	void (*handler)(void);

	if (!rcu_access_pointer(synic_live_be))
		return;
	handler = READ_ONCE(synic_handler);
	if (handler)
		handler();
}

int viridian_synic_register_handler(void (*handler)(void))
{
	if (!handler)
		return -EINVAL;
	if (cmpxchg(&synic_handler, NULL, handler))
		return -EBUSY;
	return 0;
}
EXPORT_SYMBOL_GPL(viridian_synic_register_handler);

/* Sleeps: once it returns, the handler runs nowhere. */
void viridian_synic_unregister_handler(void)
{
	WRITE_ONCE(synic_handler, NULL);
	synchronize_rcu();
}
EXPORT_SYMBOL_GPL(viridian_synic_unregister_handler);

struct synic_sint_request {
	struct viridian_hv_backend *be;
	unsigned int sint;
	bool unmask;
};

static long synic_sint_on_cpu(void *arg)
{
	struct synic_sint_request *req = arg;

	return synic_program_sint(req->be, req->sint, req->unmask);
}

int viridian_synic_enable_sint(unsigned int sint)
{
	struct synic_sint_request req = { .sint = sint, .unmask = true };
	unsigned int cpu, done;
	long ret = 0;

	if (sint >= HV_SYNIC_SINT_COUNT)
		return -EINVAL;

	mutex_lock(&synic_lock);
	if (!synic_be) {
		mutex_unlock(&synic_lock);
		return -ENODEV;
	}
	req.be = synic_be;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		ret = work_on_cpu(cpu, synic_sint_on_cpu, &req);
		if (ret)
			break;
	}
	if (ret) {
		pr_err("cannot unmask SINT%u on CPU%u (%ld)\n", sint, cpu, ret);
		req.unmask = false;
		for_each_online_cpu(done) {
			if (done == cpu)
				break;
			work_on_cpu(done, synic_sint_on_cpu, &req);
		}
	} else {
		set_bit(sint, &synic_sints);
	}
	cpus_read_unlock();
	mutex_unlock(&synic_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(viridian_synic_enable_sint);

void viridian_synic_disable_sint(unsigned int sint)
{
	struct synic_sint_request req = { .sint = sint, .unmask = false };
	unsigned int cpu;
	long ret;

	if (sint >= HV_SYNIC_SINT_COUNT)
		return;

	mutex_lock(&synic_lock);
	cpus_read_lock();
	clear_bit(sint, &synic_sints);
	if (synic_be) {
		req.be = synic_be;
		for_each_online_cpu(cpu) {
			ret = work_on_cpu(cpu, synic_sint_on_cpu, &req);
			if (ret)
				pr_err("cannot mask SINT%u on CPU%u (%ld)\n", sint, cpu, ret);
		}
	}
	cpus_read_unlock();
	mutex_unlock(&synic_lock);
}
EXPORT_SYMBOL_GPL(viridian_synic_disable_sint);

struct hv_message_page *viridian_synic_message_page(void)
{
	return this_cpu_read(synic_cpus.message_page);
}
EXPORT_SYMBOL_GPL(viridian_synic_message_page);

struct hv_synic_event_flags_page *viridian_synic_event_page(void)
{
	return this_cpu_read(synic_cpus.event_page);
}
EXPORT_SYMBOL_GPL(viridian_synic_event_page);

struct hv_message_page *viridian_synic_message_page_of(unsigned int cpu)
{
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu))
		return NULL;
	return READ_ONCE(per_cpu(synic_cpus, cpu).message_page);
}
EXPORT_SYMBOL_GPL(viridian_synic_message_page_of);

struct hv_synic_event_flags_page *viridian_synic_event_page_of(unsigned int cpu)
{
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu))
		return NULL;
	return READ_ONCE(per_cpu(synic_cpus, cpu).event_page);
}
EXPORT_SYMBOL_GPL(viridian_synic_event_page_of);

u32 viridian_hv_vp_index(unsigned int cpu)
{
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu) ||
	    !rcu_access_pointer(synic_live_be))
		return U32_MAX;
	return READ_ONCE(per_cpu(synic_cpus, cpu).vp_index);
}
EXPORT_SYMBOL_GPL(viridian_hv_vp_index);

void viridian_synic_message_done(struct hv_message *msg)
{
	WRITE_ONCE(msg->header.message_type, HVMSG_NONE);
	/*
	 * The hypervisor sets the pending flag when it finds the slot busy.
	 * Clearing the type must be visible before the flag is read: then
	 * either it saw the slot free or we see the flag and ask again.
	 */
	mb();
	if (READ_ONCE(msg->header.message_flags) & HV_MESSAGE_FLAG_PENDING) {
		struct viridian_hv_backend *be;

		rcu_read_lock();
		be = rcu_dereference(synic_live_be);
		if (be)
			be->ops->write_msr(be, HV_MSR_EOM, 0);
		rcu_read_unlock();
	}
}
EXPORT_SYMBOL_GPL(viridian_synic_message_done);
