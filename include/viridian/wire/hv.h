/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The hypervisor interface of the Hyper-V TLFS that the suite uses:
 * CPUID leaves, synthetic MSRs, hypercall codes and status values, and the
 * SynIC message and event-flag pages. Shared by the guest's hypercall layer
 * and host-sim's hypervisor simulator.
 */
#ifndef VIRIDIAN_WIRE_HV_H
#define VIRIDIAN_WIRE_HV_H

#include "types.h"

/* CPUID leaves. */
#define HV_CPUID_VENDOR_AND_MAX		0x40000000u
#define HV_CPUID_INTERFACE		0x40000001u
#define HV_CPUID_VERSION		0x40000002u
#define HV_CPUID_FEATURES		0x40000003u
#define HV_CPUID_ENLIGHTENMENT_INFO	0x40000004u
#define HV_CPUID_IMPLEMENT_LIMITS	0x40000005u
#define HV_CPUID_HARDWARE_FEATURES	0x40000006u
#define HV_CPUID_CPU_MANAGEMENT		0x40000007u
#define HV_CPUID_SVM_FEATURES		0x40000008u
#define HV_CPUID_NESTED_FEATURES	0x40000009u
#define HV_CPUID_NESTED_OPTIMIZATIONS	0x4000000Au
#define HV_CPUID_MAX_LEAF		HV_CPUID_NESTED_OPTIMIZATIONS

/* "Microsoft Hv" in EBX, ECX, EDX of leaf 0x40000000. */
#define HV_CPUID_SIGNATURE_EBX		0x7263694du
#define HV_CPUID_SIGNATURE_ECX		0x666f736fu
#define HV_CPUID_SIGNATURE_EDX		0x76482074u
/* "Hv#1" in EAX of leaf 0x40000001. */
#define HV_CPUID_INTERFACE_HV1		0x31237648u

/* Leaf 0x40000003 EAX: partition privileges. */
#define HV_PRIV_ACCESS_VP_RUNTIME	BIT(0)
#define HV_PRIV_ACCESS_TIME_REF_COUNT	BIT(1)
#define HV_PRIV_ACCESS_SYNIC_REGS	BIT(2)
#define HV_PRIV_ACCESS_SYNTIMER_REGS	BIT(3)
#define HV_PRIV_ACCESS_INTR_CTRL_REGS	BIT(4)
#define HV_PRIV_ACCESS_HYPERCALL_MSRS	BIT(5)
#define HV_PRIV_ACCESS_VP_INDEX		BIT(6)
#define HV_PRIV_ACCESS_RESET		BIT(7)
#define HV_PRIV_ACCESS_REFERENCE_TSC	BIT(9)
#define HV_PRIV_ACCESS_GUEST_IDLE	BIT(10)
#define HV_PRIV_ACCESS_FREQUENCY_MSRS	BIT(11)
/* Leaf 0x40000003 EBX: partition flags. */
#define HV_PRIV_POST_MESSAGES		BIT(4)
#define HV_PRIV_SIGNAL_EVENTS		BIT(5)
/* Leaf 0x40000003 EDX: features. */
#define HV_FEATURE_FREQUENCY_MSRS	BIT(8)
#define HV_FEATURE_GUEST_CRASH_MSRS	BIT(10)

/* Synthetic MSRs. */
#define HV_MSR_GUEST_OS_ID		0x40000000u
#define HV_MSR_HYPERCALL		0x40000001u
#define HV_MSR_VP_INDEX			0x40000002u
#define HV_MSR_RESET			0x40000003u
#define HV_MSR_VP_RUNTIME		0x40000010u
#define HV_MSR_TIME_REF_COUNT		0x40000020u
#define HV_MSR_REFERENCE_TSC		0x40000021u
#define HV_MSR_TSC_FREQUENCY		0x40000022u
#define HV_MSR_APIC_FREQUENCY		0x40000023u
#define HV_MSR_SCONTROL			0x40000080u
#define HV_MSR_SVERSION			0x40000081u
#define HV_MSR_SIEFP			0x40000082u
#define HV_MSR_SIMP			0x40000083u
#define HV_MSR_EOM			0x40000084u
#define HV_MSR_SINT0			0x40000090u
#define HV_MSR_SINT15			0x4000009Fu
#define HV_MSR_CRASH_P0			0x40000100u
#define HV_MSR_CRASH_P4			0x40000104u
#define HV_MSR_CRASH_CTL		0x40000105u

#define HV_MSR_HYPERCALL_ENABLE		BIT_ULL(0)
#define HV_MSR_SIMP_ENABLE		BIT_ULL(0)
#define HV_MSR_SIEFP_ENABLE		BIT_ULL(0)
#define HV_MSR_SCONTROL_ENABLE		BIT_ULL(0)
#define HV_MSR_REFERENCE_TSC_ENABLE	BIT_ULL(0)
#define HV_MSR_PAGE_GPA_MASK		(~0xfffull)
#define HV_MSR_CRASH_CTL_NOTIFY		BIT_ULL(63)
#define HV_MSR_CRASH_CTL_MESSAGE	BIT_ULL(62)

/* SINTx MSR fields. */
#define HV_SINT_VECTOR_MASK		0xffull
#define HV_SINT_MASKED			BIT_ULL(16)
#define HV_SINT_AUTO_EOI		BIT_ULL(17)
#define HV_SINT_POLLING			BIT_ULL(18)

#define HV_SYNIC_SINT_COUNT		16
#define HV_SYNIC_VERSION		1
#define HV_SYNIC_EVENT_FLAG_COUNT	2048

/*
 * Guest OS ID (TLFS "open source" encoding): bit 63 set, OS type in bits
 * 62:56 (Linux is 1), distribution in 55:48, kernel version in 47:16.
 */
#define HV_GUEST_OS_ID_OPEN_SOURCE	BIT_ULL(63)
#define HV_GUEST_OS_ID_LINUX		(0x1ull << 56)
#define HV_GUEST_OS_ID_VERSION_SHIFT	16

/* Hypercall input value. */
#define HV_HYPERCALL_CODE_MASK		0xffffull
#define HV_HYPERCALL_FAST		BIT_ULL(16)
#define HV_HYPERCALL_REP_COUNT_SHIFT	32
#define HV_HYPERCALL_REP_START_SHIFT	48
#define HV_HYPERCALL_REP_MASK		0xfffull
/* Hypercall result value. */
#define HV_HYPERCALL_STATUS_MASK	0xffffull
#define HV_HYPERCALL_REPS_DONE_SHIFT	32

/* Hypercall codes. */
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE	0x0002
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST	0x0003
#define HVCALL_NOTIFY_LONG_SPIN_WAIT		0x0008
#define HVCALL_POST_MESSAGE			0x005c
#define HVCALL_SIGNAL_EVENT			0x005d

/* Hypercall status values. */
#define HV_STATUS_SUCCESS			0x0000
#define HV_STATUS_INVALID_HYPERCALL_CODE	0x0002
#define HV_STATUS_INVALID_HYPERCALL_INPUT	0x0003
#define HV_STATUS_INVALID_ALIGNMENT		0x0004
#define HV_STATUS_INVALID_PARAMETER		0x0005
#define HV_STATUS_ACCESS_DENIED			0x0006
#define HV_STATUS_INVALID_PARTITION_STATE	0x0007
#define HV_STATUS_OPERATION_DENIED		0x0008
#define HV_STATUS_INSUFFICIENT_MEMORY		0x000b
#define HV_STATUS_INVALID_VP_INDEX		0x000e
#define HV_STATUS_INVALID_PORT_ID		0x0011
#define HV_STATUS_INVALID_CONNECTION_ID		0x0012
#define HV_STATUS_INSUFFICIENT_BUFFERS		0x0013
#define HV_STATUS_NOT_ACKNOWLEDGED		0x0014
#define HV_STATUS_INVALID_VP_STATE		0x0015
#define HV_STATUS_TIME_OUT			0x0078

/* SynIC message types. */
#define HVMSG_NONE			0x00000000u
#define HVMSG_VMBUS			0x00000001u
#define HVMSG_UNMAPPED_GPA		0x80000000u
#define HVMSG_TIMER_EXPIRED		0x80000010u

#define HV_MESSAGE_SIZE			256
#define HV_MESSAGE_PAYLOAD_BYTES	240
#define HV_MESSAGE_PAYLOAD_QWORDS	30

#define HV_MESSAGE_FLAG_PENDING		0x01

struct hv_message_header {
	__u32 message_type;
	__u8 payload_size;
	__u8 message_flags;
	__u8 reserved[2];
	__u64 sender;		/* port ID in the low 32 bits */
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_message_header, 16);

struct hv_message {
	struct hv_message_header header;
	__u64 payload[HV_MESSAGE_PAYLOAD_QWORDS];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_message, HV_MESSAGE_SIZE);

/* The SIMP page: one message slot per SINT. */
struct hv_message_page {
	struct hv_message sint_message[HV_SYNIC_SINT_COUNT];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_message_page, 4096);

/* The SIEFP page: 2048 event flags per SINT. */
struct hv_synic_event_flags {
	__u64 flags[HV_SYNIC_EVENT_FLAG_COUNT / 64];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_synic_event_flags, 256);

struct hv_synic_event_flags_page {
	struct hv_synic_event_flags sintevent_flags[HV_SYNIC_SINT_COUNT];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_synic_event_flags_page, 4096);

/* HvPostMessage input. */
struct hv_input_post_message {
	__u32 connection_id;
	__u32 reserved;
	__u32 message_type;
	__u32 payload_size;
	__u64 payload[HV_MESSAGE_PAYLOAD_QWORDS];
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_input_post_message, 256);

/* HvSignalEvent fast input: connection ID in bits 0-31, flag in 32-47. */
#define HV_SIGNAL_EVENT_FLAG_SHIFT	32

/* Reference TSC page. A sequence of 0 means "use the MSR instead". */
struct hv_reference_tsc_page {
	__u32 tsc_sequence;
	__u32 reserved1;
	__u64 tsc_scale;
	__s64 tsc_offset;
} __packed;
VIRIDIAN_WIRE_SIZE(struct hv_reference_tsc_page, 24);

#endif /* VIRIDIAN_WIRE_HV_H */
