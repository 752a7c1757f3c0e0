/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The simulated synthetic interrupt controller: per VP the SynIC MSRs
 * (SCONTROL, SIMP, SIEFP, SINT0-15, EOM) and a bounded queue of messages
 * per SINT waiting for the guest to free the SINT's slot in the SIMP page.
 *
 * Delivery writes the guest's SIMP/SIEFP pages directly and interrupts the
 * VP by writing 1 to its eventfd (the ivshmem guest eventfd of vector vp,
 * which QEMU turns into MSI-X vector vp).
 *
 * All functions are thread-safe: VSP workers post and signal from their own
 * threads while the hypervisor handles MSRs on the loop thread.
 */
#ifndef HVSIM_HYPERVISOR_SYNIC_H
#define HVSIM_HYPERVISOR_SYNIC_H

#include <stdint.h>
#include <stdio.h>

struct guest_mem;
struct synic;

/* Messages a SINT holds while its slot is busy, per VP. */
#define SYNIC_QUEUE_LIMIT	256

/*
 * vp_irq_fds[vp] is written to interrupt VP vp; the array is copied. NULL
 * with errno on failure. Every SINT starts masked, SIMP and SIEFP disabled.
 */
struct synic *synic_new(struct guest_mem *mem, uint32_t nr_vps, const int *vp_irq_fds);
void synic_free(struct synic *s);

/*
 * SynIC MSR access by VP vp. Return 0, -EPERM when the CPU would raise #GP
 * (e.g. SIMP enabled with a GPA outside RAM, a write to SVERSION), or
 * -ENOENT when msr is not a SynIC MSR.
 */
int synic_rdmsr(struct synic *s, uint32_t vp, uint32_t msr, uint64_t *value);
int synic_wrmsr(struct synic *s, uint32_t vp, uint32_t msr, uint64_t value);

/*
 * Post a message to SINT sint of VP vp. If the SINT's slot is empty
 * (HVMSG_NONE) the message is written (payload first, message_type last
 * with release ordering) and the VP interrupted; otherwise it is queued and
 * HV_MESSAGE_FLAG_PENDING set on the occupied slot, so the guest writes EOM
 * when it frees the slot, and the EOM delivers the next message.
 *
 * Returns 0 when delivered or queued for an enabled SINT; -EAGAIN if the
 * SINT's queue is full (nothing queued); -ENODEV if SCONTROL, the SIMP or
 * the SINT is disabled or masked: unlike real Hyper-V, which drops such a
 * message, it stays queued (up to the limit) and is delivered when the
 * guest enables the SINT, so a host component may post before the guest
 * has finished SynIC set-up. -EINVAL for a bad vp, sint, type or len.
 */
int synic_post_message(struct synic *s, uint32_t vp, uint32_t sint, uint32_t message_type,
		       const void *payload, uint32_t len);

/*
 * Set event flag `flag` of SINT sint in VP vp's SIEFP page, atomically. If
 * the flag was clear and the SINT unmasked (and not in polling mode), the VP
 * is interrupted; setting a flag that is already set interrupts nobody.
 * Returns 0 (the flag is set, even on a masked SINT: the guest sees it once
 * it unmasks), -ENODEV if the SIEFP is disabled, -EINVAL for bad arguments.
 */
int synic_signal_event(struct synic *s, uint32_t vp, uint32_t sint, uint32_t flag);

/*
 * The longest queue of SINT sint over all VPs: messages the guest has not
 * made room for yet. The hypervisor uses it as back-pressure on
 * HvPostMessage.
 */
unsigned int synic_backlog(struct synic *s, uint32_t sint);

/* Human-readable state of every VP, for `hvsim ctl NAME status`. */
void synic_describe(struct synic *s, FILE *out);

#endif /* HVSIM_HYPERVISOR_SYNIC_H */
