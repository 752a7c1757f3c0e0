/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside viridian_hv.ko: the back-end ops table and the calls between the
 * core, the SynIC code and the two back ends.
 *
 * The real Hyper-V back end also includes the kernel's <asm/mshyperv.h>,
 * whose TLFS definitions use the same names as <viridian/wire/hv.h>, so
 * this header must not pull the wire header in.
 */
#ifndef VIRIDIAN_HV_INTERNAL_H
#define VIRIDIAN_HV_INTERNAL_H

#include <linux/errno.h>
#include <linux/types.h>

struct viridian_hv_backend;

/*
 * What a CPU would trap: cpuid, rdmsr, wrmsr and the hypercall instruction,
 * plus HvSignalEvent, which the simulator delivers its own way. Except for
 * cpu_online, every op acts on the CPU it is called on, may be called in
 * atomic context and never sleeps.
 */
struct viridian_hv_ops {
	/* 0, or a negative errno when the trap itself could not be made. */
	int (*cpuid)(struct viridian_hv_backend *be, u32 leaf, u32 subleaf,
		     u32 regs[4]);
	/* 0, or -EIO where the instruction would have raised #GP. */
	int (*read_msr)(struct viridian_hv_backend *be, u32 msr, u64 *value);
	int (*write_msr)(struct viridian_hv_backend *be, u32 msr, u64 value);
	/*
	 * A memory-based hypercall. input and output are whole pages of the
	 * kernel's direct map (or NULL). Returns the TLFS result value.
	 */
	u64 (*hypercall)(struct viridian_hv_backend *be, u64 control,
			 void *input, void *output);
	/* HvSignalEvent. Returns the TLFS status. */
	u16 (*signal_event)(struct viridian_hv_backend *be, u32 connection_id,
			    u16 flag_number);
	/* Optional: a CPU is coming online; runs on that CPU, may sleep. */
	int (*cpu_online)(struct viridian_hv_backend *be, unsigned int cpu);
};

struct viridian_hv_backend {
	const char *name;
	const struct viridian_hv_ops *ops;
	unsigned int nr_vps;
	/*
	 * The SINT vector: on Hyper-V the kernel's callback vector; host-sim
	 * interrupts through MSI-X and ignores it, but gets a valid one.
	 */
	u8 sint_vector;
	/* Unmask SINTs with auto-EOI (else the interrupt path EOIs). */
	bool sint_auto_eoi;
	/* Write the guest OS ID on every CPU (the kernel did not). */
	bool owns_guest_os_id;
};

/* Core. A back end binds once its traps work and unbinds before it stops. */
int viridian_hv_bind(struct viridian_hv_backend *be);
void viridian_hv_unbind(struct viridian_hv_backend *be);
u64 viridian_hv_guest_os_id(void);

/* SynIC, driven by the core. */
int viridian_synic_start(struct viridian_hv_backend *be);
void viridian_synic_stop(void);
void *viridian_synic_post_input(void);
void viridian_synic_shutdown_all(void);
void viridian_synic_shutdown_this_cpu(void);

/*
 * kexec and crash: the VMBus driver says goodbye to the host (its unload
 * hook), then the SynIC goes off, so the next kernel starts on a clean
 * hypervisor state. Called by a back end that the kernel tells of them.
 */
void viridian_hv_kexec_teardown(void);
void viridian_hv_crash_teardown(void);

/* What every back end's SynIC interrupt calls, in hard-IRQ context. */
void viridian_synic_isr(void);

/* The simulator back end (a PCI driver). */
int viridian_sim_backend_init(void);
void viridian_sim_backend_exit(void);

/* The real Hyper-V back end: 0 once bound, else it stays out of the way. */
#if IS_ENABLED(CONFIG_HYPERV) && defined(CONFIG_X86_64)
int viridian_hyperv_backend_init(void);
void viridian_hyperv_backend_exit(void);
#else
static inline int viridian_hyperv_backend_init(void)
{
	return -ENODEV;
}

static inline void viridian_hyperv_backend_exit(void)
{
}
#endif

#endif /* VIRIDIAN_HV_INTERNAL_H */
