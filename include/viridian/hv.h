/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hypercall layer (viridian_hv.ko): one API over two back ends, real
 * Hyper-V and the host-sim simulator. Callers never learn which one runs.
 */
#ifndef VIRIDIAN_HV_H
#define VIRIDIAN_HV_H

#include <linux/types.h>
#include <linux/cpumask.h>
#include <viridian/wire/hv.h>

/* Which back end is bound; for logs and sysfs only. */
const char *viridian_hv_backend_name(void);

/*
 * True once a back end is bound and the SynIC is enabled on every online
 * CPU. Everything below needs it.
 */
bool viridian_hv_ready(void);

/* Synthetic MSRs. Return 0 or -EIO (the access would have faulted). */
int viridian_hv_rdmsr(u32 msr, u64 *value);
int viridian_hv_wrmsr(u32 msr, u64 value);

/* CPUID of a hypervisor leaf. */
void viridian_hv_cpuid(u32 leaf, u32 *eax, u32 *ebx, u32 *ecx, u32 *edx);

/*
 * HvPostMessage. Payload up to HV_MESSAGE_PAYLOAD_BYTES. Returns the TLFS
 * status (HV_STATUS_*); callers retry HV_STATUS_INSUFFICIENT_BUFFERS. May
 * be called in atomic context.
 */
u16 viridian_hv_post_message(u32 connection_id, u32 message_type,
			     const void *payload, u32 payload_size);

/*
 * HvSignalEvent. Fast and asynchronous on the data path. Returns the TLFS
 * status. May be called in atomic context.
 */
u16 viridian_hv_signal_event(u32 connection_id, u16 flag_number);

/* The hypervisor's VP index of a CPU. */
u32 viridian_hv_vp_index(unsigned int cpu);

/* Partition reference time, 100 ns units. */
u64 viridian_hv_reference_time(void);

/*
 * SynIC. The layer owns the SIMP and SIEFP pages of every CPU and the one
 * interrupt all SINTs share. A single client (the VMBus driver) registers
 * the handler that runs, in hard-IRQ context on the CPU interrupted, for
 * every SynIC interrupt.
 */
struct hv_message_page;
struct hv_synic_event_flags_page;

int viridian_synic_register_handler(void (*handler)(void));
void viridian_synic_unregister_handler(void);

/* Unmask or mask a SINT on every online CPU (auto-EOI, not polling). */
int viridian_synic_enable_sint(unsigned int sint);
void viridian_synic_disable_sint(unsigned int sint);

/* This CPU's pages; valid from hard-IRQ or preempt-disabled context. */
struct hv_message_page *viridian_synic_message_page(void);
struct hv_synic_event_flags_page *viridian_synic_event_page(void);

/* Any CPU's pages, for tear-down and diagnostics. */
struct hv_message_page *viridian_synic_message_page_of(unsigned int cpu);
struct hv_synic_event_flags_page *viridian_synic_event_page_of(unsigned int cpu);

/*
 * Release a message slot on this CPU once its content is consumed: marks it
 * empty and, if the hypervisor has more queued, writes EOM so it delivers
 * the next.
 */
void viridian_synic_message_done(struct hv_message *msg);

/*
 * The SynIC client's goodbye to the host before this kernel ends (kexec)
 * or a kdump kernel takes over (crash), called before the SynIC goes off.
 * With crash set it runs on the one CPU left, interrupts off: it may not
 * sleep, lock or allocate, and must poll for the host's answer. One hook;
 * -EBUSY if another is set. Unregistering waits for a running hook.
 */
int viridian_hv_register_unload(void (*unload)(bool crash));
void viridian_hv_unregister_unload(void);

#endif /* VIRIDIAN_HV_H */
