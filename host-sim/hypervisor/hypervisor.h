/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The hypervisor simulator: what a CPU running on Hyper-V would trap.
 * The guest's simulator back end puts CPUID, RDMSR, WRMSR and hypercalls in
 * its VP's mailbox (include/viridian/wire/sim.h) and rings the trap
 * doorbell; HvSignalEvent sets a bit in the signal bitmap and rings the
 * signal doorbell. Everything here runs on the loop thread except the
 * SynIC, which is thread-safe (see synic.h).
 *
 * Nothing the guest wrote is trusted: mailbox contents are copied before
 * use, every GPA is bounds-checked, bad requests fail the way the hardware
 * or the TLFS says (#GP, HV_STATUS_*), with a rate-limited log line.
 */
#ifndef HVSIM_HYPERVISOR_H
#define HVSIM_HYPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct guest_mem;
struct loop;
struct synic;
struct vmbus_server;
struct hypervisor;

struct hypervisor_config {
	struct loop *loop;
	struct guest_mem *mem;
	void *shm;		/* the ivshmem shared memory, HVSIM_SHM_SIZE */
	uint32_t nr_vps;	/* VP n = mailbox n = MSI-X vector n */
	const int *vp_irq_fds;	/* eventfd per VP: writing 1 interrupts it */
};

/* NULL with errno on failure. */
struct hypervisor *hypervisor_new(const struct hypervisor_config *cfg);
void hypervisor_free(struct hypervisor *hv);

/*
 * Where HvPostMessage and HvSignalEvent go. Without a VMBus server, posts
 * fail with HV_STATUS_INVALID_CONNECTION_ID and signals are dropped.
 */
void hypervisor_set_vmbus(struct hypervisor *hv, struct vmbus_server *srv);
struct synic *hypervisor_synic(struct hypervisor *hv);

/* The guest rang host-peer vector (the ivshmem server's host_vector op). */
void hypervisor_doorbell(struct hypervisor *hv, unsigned int vector);
/* Serve every mailbox with an outstanding request. */
void hypervisor_process_mailboxes(struct hypervisor *hv);
/* Dispatch and clear every bit of the signal bitmap. */
void hypervisor_process_signals(struct hypervisor *hv);
/*
 * Start or stop the 1 ms monitor-page poll as the VMBus server wants it.
 * Runs after every post and signal; call it too when the server's answer
 * changes for another reason (a channel opened from a VSP, a rescind).
 */
void hypervisor_update_monitor_poll(struct hypervisor *hv);

/* Partition reference time: 100 ns units since the hypervisor started. */
uint64_t hypervisor_reference_time(struct hypervisor *hv);
/* True once the guest reported a crash through the crash MSRs. */
bool hypervisor_guest_crashed(struct hypervisor *hv);
/* Human-readable state, for `hvsim ctl NAME status`. */
void hypervisor_describe(struct hypervisor *hv, FILE *out);

#endif /* HVSIM_HYPERVISOR_H */
