/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The simulator's trap ABI: how cpuid, rdmsr/wrmsr and the hypercall
 * instruction travel from the guest to host-sim when there is no real
 * Hyper-V. Only what a CPU would trap crosses here; everything above it
 * (SynIC pages, VMBus messages, rings) is the real wire format in guest RAM.
 *
 * Transport: QEMU's ivshmem-doorbell PCI device (1af4:1110). BAR0 holds the
 * doorbell registers, BAR2 the shared memory laid out below. host-sim is the
 * ivshmem server and also a peer ("host peer") whose eventfds it watches.
 *
 * Synchronous operations (set-up path): the guest fills the mailbox of the
 * CPU it runs on, publishes request_seq, rings HVSIM_VECTOR_TRAP of the host
 * peer and spins until response_seq equals request_seq.
 *
 * Asynchronous signals (data path): HvSignalEvent sets bit connection_id in
 * the signal bitmap and rings HVSIM_VECTOR_SIGNAL; there is no round trip.
 *
 * Interrupts: host-sim raises SynIC interrupts for VP n on MSI-X vector n.
 */
#ifndef VIRIDIAN_WIRE_SIM_H
#define VIRIDIAN_WIRE_SIM_H

#include "types.h"

#define HVSIM_PCI_VENDOR		0x1af4
#define HVSIM_PCI_DEVICE		0x1110
#define HVSIM_BAR_REGS			0
#define HVSIM_BAR_SHM			2

/* BAR0 registers of ivshmem. */
#define HVSIM_REG_INTR_MASK		0
#define HVSIM_REG_INTR_STATUS		4
#define HVSIM_REG_IV_POSITION		8
#define HVSIM_REG_DOORBELL		12
#define HVSIM_DOORBELL(peer, vector)	(((__u32)(peer) << 16) | (vector))

/* Host-peer vectors the guest rings. */
#define HVSIM_VECTOR_TRAP		0
#define HVSIM_VECTOR_SIGNAL		1
#define HVSIM_HOST_VECTORS		2

#define HVSIM_MAGIC			"VIRIDIAN-HVSIM1"
#define HVSIM_ABI_VERSION		1
#define HVSIM_MAX_VPS			64
#define HVSIM_SHM_SIZE			BIT(20)

/* Connection IDs the guest may signal: one bit each in the signal bitmap. */
#define HVSIM_SIGNAL_CONNECTIONS	4096

struct hvsim_shm_header {
	char magic[16];			/* HVSIM_MAGIC, NUL-terminated */
	__u32 abi_version;		/* HVSIM_ABI_VERSION */
	__u32 host_peer_id;		/* ivshmem peer to ring */
	__u32 nr_vps;			/* mailboxes and MSI-X vectors */
	__u32 mailbox_offset;		/* from the start of BAR2 */
	__u32 mailbox_stride;		/* HVSIM_MAILBOX_STRIDE */
	__u32 signal_offset;		/* the signal bitmap */
	__u32 signal_bits;		/* HVSIM_SIGNAL_CONNECTIONS */
	__u32 reserved[5];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hvsim_shm_header, 64);

enum hvsim_op {
	HVSIM_OP_NONE		= 0,
	HVSIM_OP_CPUID		= 1,	/* in: leaf, subleaf; out: eax, ebx, ecx, edx */
	HVSIM_OP_RDMSR		= 2,	/* in: msr; out: value */
	HVSIM_OP_WRMSR		= 3,	/* in: msr, value */
	/*
	 * in: control, input GPA, output GPA (or the two fast-call
	 * registers); out: result
	 */
	HVSIM_OP_HYPERCALL	= 4,
};

/* Mailbox status: what the CPU would have done. */
enum hvsim_status {
	HVSIM_STATUS_OK		= 0,
	HVSIM_STATUS_GP_FAULT	= 1,	/* rdmsr/wrmsr would raise #GP */
	HVSIM_STATUS_UD_FAULT	= 2,	/* hypercall instruction not enabled */
	HVSIM_STATUS_BAD_OP	= 3,
};

struct hvsim_mailbox {
	__u32 request_seq;		/* written last by the guest */
	__u32 response_seq;		/* written last by host-sim */
	__u32 op;			/* enum hvsim_op */
	__u32 status;			/* enum hvsim_status */
	__u64 in[4];
	__u64 out[4];
	__u8 reserved[64];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hvsim_mailbox, 144);

#define HVSIM_MAILBOX_OFFSET		4096u
#define HVSIM_MAILBOX_STRIDE		256u
#define HVSIM_SIGNAL_OFFSET		(HVSIM_MAILBOX_OFFSET + \
					 HVSIM_MAX_VPS * HVSIM_MAILBOX_STRIDE)

#endif /* VIRIDIAN_WIRE_SIM_H */
