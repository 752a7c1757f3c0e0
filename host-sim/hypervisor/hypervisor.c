// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "hypervisor/hypervisor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "viridian/wire/hv.h"
#include "viridian/wire/sim.h"
#include "viridian/wire/vmbus.h"
#include "core/guest_mem.h"
#include "core/log.h"
#include "core/loop.h"
#include "hypervisor/synic.h"
#include "vmbus/server.h"
#include "trace.h"

/* What CPUID 0x40000002 reports: Windows Server 2022 (10.0.20348). */
#define SIM_BUILD_NUMBER	20348u
#define SIM_VERSION_MAJOR	10u
#define SIM_VERSION_MINOR	0u

/* QEMU's emulated local APIC timer runs at 1 GHz. */
#define SIM_APIC_FREQUENCY	1000000000ull

#define MONITOR_POLL_NS		1000000ull

/* Connection IDs are 24 bits wide (TLFS HV_CONNECTION_ID). */
#define HV_CONNECTION_ID_MASK	0xffffffu

#define CRASH_MESSAGE_MAX	4096u

/*
 * The message port's queue limit. Posts are handed to the VMBus server at
 * once, and its answers queue on the VMBus SINT until the guest frees its
 * slot; a guest that keeps posting without taking its answers is told
 * HV_STATUS_INSUFFICIENT_BUFFERS (retry later) instead of having answers
 * dropped once the SynIC queue is full.
 */
#define POST_BACKLOG_LIMIT	(SYNIC_QUEUE_LIMIT / 2)

struct hypervisor {
	struct loop *loop;
	struct guest_mem *mem;
	uint8_t *shm;
	uint32_t nr_vps;
	struct synic *synic;
	struct vmbus_server *vmbus;
	struct loop_timer *monitor_timer;
	struct timespec start;
	uint64_t tsc_frequency;

	/* Partition-wide MSRs. */
	uint64_t guest_os_id;
	uint64_t hypercall;
	uint64_t reference_tsc;
	uint64_t crash_p[5];
	bool crashed;

	/* Statistics for `status`. */
	uint64_t traps, posts, signals;
};

static struct log_ratelimit rl_msr, rl_hypercall, rl_op, rl_crash;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Under TCG the guest's TSC is the host's (QEMU reads it with rdtsc), so
 * the frequency the guest needs is the host's, measured once.
 */
static uint64_t measure_tsc_frequency(void)
{
#if defined(__x86_64__) || defined(__i386__)
	struct timespec pause = { .tv_nsec = 20000000 };
	uint64_t t0, t1, c0, c1;

	t0 = now_ns();
	c0 = __rdtsc();
	nanosleep(&pause, NULL);
	t1 = now_ns();
	c1 = __rdtsc();
	if (t1 <= t0 || c1 <= c0)
		return 0;
	/* Round to kHz: the measurement is not more precise than that. */
	return (c1 - c0) * 1000000ull / (t1 - t0) * 1000ull;
#else
	return 0;
#endif
}

static void monitor_tick(void *ctx);

struct hypervisor *hypervisor_new(const struct hypervisor_config *cfg)
{
	struct hypervisor *hv;
	int err;

	if (!cfg || !cfg->loop || !cfg->mem || !cfg->shm || !cfg->vp_irq_fds ||
	    cfg->nr_vps == 0 || cfg->nr_vps > HVSIM_MAX_VPS) {
		errno = EINVAL;
		return NULL;
	}
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return NULL;
	hv->loop = cfg->loop;
	hv->mem = cfg->mem;
	hv->shm = cfg->shm;
	hv->nr_vps = cfg->nr_vps;
	clock_gettime(CLOCK_MONOTONIC, &hv->start);
	hv->synic = synic_new(cfg->mem, cfg->nr_vps, cfg->vp_irq_fds);
	if (!hv->synic)
		goto fail;
	hv->monitor_timer = loop_timer_new(cfg->loop, monitor_tick, hv);
	if (!hv->monitor_timer)
		goto fail;
	hv->tsc_frequency = measure_tsc_frequency();
	return hv;
fail:
	err = errno;
	hypervisor_free(hv);
	errno = err;
	return NULL;
}

void hypervisor_free(struct hypervisor *hv)
{
	if (!hv)
		return;
	loop_timer_free(hv->monitor_timer);
	synic_free(hv->synic);
	free(hv);
}

void hypervisor_set_vmbus(struct hypervisor *hv, struct vmbus_server *srv)
{
	hv->vmbus = srv;
	hypervisor_update_monitor_poll(hv);
}

struct synic *hypervisor_synic(struct hypervisor *hv)
{
	return hv->synic;
}

uint64_t hypervisor_reference_time(struct hypervisor *hv)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(now.tv_sec - hv->start.tv_sec) * 1000000000LL +
	     (now.tv_nsec - hv->start.tv_nsec);
	return ns > 0 ? (uint64_t)ns / 100u : 0;
}

bool hypervisor_guest_crashed(struct hypervisor *hv)
{
	return hv->crashed;
}

/* ---- monitor page polling ---- */

static void monitor_tick(void *ctx)
{
	struct hypervisor *hv = ctx;

	if (hv->vmbus)
		vmbus_server_poll_monitor(hv->vmbus);
	hypervisor_update_monitor_poll(hv);
}

void hypervisor_update_monitor_poll(struct hypervisor *hv)
{
	bool want = hv->vmbus && vmbus_server_wants_monitor_poll(hv->vmbus);
	bool armed = loop_timer_armed(hv->monitor_timer);

	if (want && !armed) {
		if (loop_timer_arm(hv->monitor_timer, MONITOR_POLL_NS, MONITOR_POLL_NS) == 0)
			TRACE("hv: monitor page polling on");
	} else if (!want && armed) {
		loop_timer_disarm(hv->monitor_timer);
		TRACE("hv: monitor page polling off");
	}
}

/* ---- CPUID ---- */

static void do_cpuid(struct hypervisor *hv, uint32_t leaf, uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(uint32_t));
	switch (leaf) {
	case HV_CPUID_VENDOR_AND_MAX:
		out[0] = HV_CPUID_MAX_LEAF;
		out[1] = HV_CPUID_SIGNATURE_EBX;
		out[2] = HV_CPUID_SIGNATURE_ECX;
		out[3] = HV_CPUID_SIGNATURE_EDX;
		break;
	case HV_CPUID_INTERFACE:
		out[0] = HV_CPUID_INTERFACE_HV1;
		break;
	case HV_CPUID_VERSION:
		out[0] = SIM_BUILD_NUMBER;
		out[1] = SIM_VERSION_MAJOR << 16 | SIM_VERSION_MINOR;
		break;
	case HV_CPUID_FEATURES:
		out[0] = HV_PRIV_ACCESS_TIME_REF_COUNT | HV_PRIV_ACCESS_SYNIC_REGS |
			 HV_PRIV_ACCESS_HYPERCALL_MSRS | HV_PRIV_ACCESS_VP_INDEX |
			 HV_PRIV_ACCESS_REFERENCE_TSC;
		if (hv->tsc_frequency)
			out[0] |= HV_PRIV_ACCESS_FREQUENCY_MSRS;
		out[1] = HV_PRIV_POST_MESSAGES | HV_PRIV_SIGNAL_EVENTS;
		out[3] = HV_FEATURE_GUEST_CRASH_MSRS;
		if (hv->tsc_frequency)
			out[3] |= HV_FEATURE_FREQUENCY_MSRS;
		break;
	case HV_CPUID_ENLIGHTENMENT_INFO:
		/* No recommendations; never notify long spin waits. */
		out[1] = 0xffffffffu;
		break;
	case HV_CPUID_IMPLEMENT_LIMITS:
		out[0] = hv->nr_vps;	/* virtual processors */
		out[1] = hv->nr_vps;	/* logical processors */
		break;
	default:
		/* 0x40000006-0x4000000A: nothing implemented; others: not ours. */
		break;
	}
}

/* ---- MSRs ---- */

static void report_crash(struct hypervisor *hv, uint32_t vp, uint64_t ctl)
{
	char text[CRASH_MESSAGE_MAX + 1];
	uint64_t gpa = hv->crash_p[3], len = hv->crash_p[4];
	const uint8_t *msg;
	uint64_t i;

	hv->crashed = true;
	log_ratelimited(&rl_crash,
			"guest crash reported by vp %u: P0=%#" PRIx64 " P1=%#" PRIx64
			" P2=%#" PRIx64 " P3=%#" PRIx64 " P4=%#" PRIx64,
			vp, hv->crash_p[0], hv->crash_p[1], hv->crash_p[2],
			hv->crash_p[3], hv->crash_p[4]);
	if (!(ctl & HV_MSR_CRASH_CTL_MESSAGE))
		return;
	if (len > CRASH_MESSAGE_MAX)
		len = CRASH_MESSAGE_MAX;
	msg = guest_mem_ptr(hv->mem, gpa, len);
	if (!msg || len == 0) {
		log_ratelimited(&rl_crash, "guest crash message at GPA %#" PRIx64
				", %" PRIu64 " bytes: not in guest RAM", gpa, hv->crash_p[4]);
		return;
	}
	/* Guest bytes go to a terminal: keep only printable text. */
	for (i = 0; i < len && msg[i]; i++)
		text[i] = (msg[i] == '\n' || msg[i] == '\t' ||
			   (msg[i] >= 0x20 && msg[i] < 0x7f)) ? (char)msg[i] : '?';
	text[i] = '\0';
	log_ratelimited(&rl_crash, "guest panic message:\n%s", text);
}

static int wrmsr_reference_tsc(struct hypervisor *hv, uint64_t value)
{
	if (value & HV_MSR_REFERENCE_TSC_ENABLE) {
		uint8_t *page = guest_mem_ptr(hv->mem, value & HV_MSR_PAGE_GPA_MASK,
					      GUEST_PAGE_SIZE);

		if (!page)
			return -EPERM;
		/* Sequence 0 sends the guest to TIME_REF_COUNT for the time. */
		__atomic_store_n((uint32_t *)page, 0u, __ATOMIC_RELEASE);
	}
	hv->reference_tsc = value & (HV_MSR_PAGE_GPA_MASK | HV_MSR_REFERENCE_TSC_ENABLE);
	return 0;
}

static int wrmsr_hypercall(struct hypervisor *hv, uint64_t value)
{
	uint64_t gpa = value & HV_MSR_PAGE_GPA_MASK;

	/* The TLFS: without a guest OS ID, the enable bit does not stick. */
	if (hv->guest_os_id == 0)
		value &= ~HV_MSR_HYPERCALL_ENABLE;
	if ((value & HV_MSR_HYPERCALL_ENABLE) && !guest_mem_ptr(hv->mem, gpa, GUEST_PAGE_SIZE))
		return -EPERM;
	/* The sim never executes the page, so nothing is written into it. */
	hv->hypercall = gpa | (value & HV_MSR_HYPERCALL_ENABLE);
	return 0;
}

/* 0, or -EPERM where a CPU would raise #GP. */
static int do_wrmsr(struct hypervisor *hv, uint32_t vp, uint32_t msr, uint64_t value)
{
	int err;

	err = synic_wrmsr(hv->synic, vp, msr, value);
	if (err != -ENOENT)
		return err;

	if (msr >= HV_MSR_CRASH_P0 && msr <= HV_MSR_CRASH_P4) {
		hv->crash_p[msr - HV_MSR_CRASH_P0] = value;
		return 0;
	}
	switch (msr) {
	case HV_MSR_GUEST_OS_ID:
		hv->guest_os_id = value;
		if (value == 0)
			hv->hypercall &= ~HV_MSR_HYPERCALL_ENABLE;
		return 0;
	case HV_MSR_HYPERCALL:
		return wrmsr_hypercall(hv, value);
	case HV_MSR_REFERENCE_TSC:
		return wrmsr_reference_tsc(hv, value);
	case HV_MSR_CRASH_CTL:
		if (value & HV_MSR_CRASH_CTL_NOTIFY)
			report_crash(hv, vp, value);
		return 0;
	default:
		/* Read-only (VP_INDEX, TIME_REF_COUNT, frequencies) or unknown. */
		return -EPERM;
	}
}

static int do_rdmsr(struct hypervisor *hv, uint32_t vp, uint32_t msr, uint64_t *value)
{
	int err;

	err = synic_rdmsr(hv->synic, vp, msr, value);
	if (err != -ENOENT)
		return err;

	if (msr >= HV_MSR_CRASH_P0 && msr <= HV_MSR_CRASH_P4) {
		*value = hv->crash_p[msr - HV_MSR_CRASH_P0];
		return 0;
	}
	switch (msr) {
	case HV_MSR_GUEST_OS_ID:
		*value = hv->guest_os_id;
		return 0;
	case HV_MSR_HYPERCALL:
		*value = hv->hypercall;
		return 0;
	case HV_MSR_VP_INDEX:
		*value = vp;
		return 0;
	case HV_MSR_TIME_REF_COUNT:
		*value = hypervisor_reference_time(hv);
		return 0;
	case HV_MSR_REFERENCE_TSC:
		*value = hv->reference_tsc;
		return 0;
	case HV_MSR_TSC_FREQUENCY:
		if (!hv->tsc_frequency)
			return -EPERM;
		*value = hv->tsc_frequency;
		return 0;
	case HV_MSR_APIC_FREQUENCY:
		if (!hv->tsc_frequency)
			return -EPERM;
		*value = SIM_APIC_FREQUENCY;
		return 0;
	case HV_MSR_CRASH_CTL:
		/* Reads report what the host supports. */
		*value = HV_MSR_CRASH_CTL_NOTIFY | HV_MSR_CRASH_CTL_MESSAGE;
		return 0;
	default:
		return -EPERM;
	}
}

/* ---- hypercalls ---- */

static void signal_connection(struct hypervisor *hv, uint32_t connection_id)
{
	hv->signals++;
	TRACE("hv: signal connection %u", connection_id);
	if (hv->vmbus)
		vmbus_server_signal(hv->vmbus, connection_id);
}

static uint16_t hvcall_post_message(struct hypervisor *hv, uint32_t vp, uint64_t control,
				    uint64_t input_gpa)
{
	struct hv_input_post_message in;
	const void *src;
	uint16_t status;

	if (control & HV_HYPERCALL_FAST)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (input_gpa % 8 || (input_gpa & (GUEST_PAGE_SIZE - 1)) + sizeof(in) > GUEST_PAGE_SIZE)
		return HV_STATUS_INVALID_ALIGNMENT;
	src = guest_mem_ptr(hv->mem, input_gpa, sizeof(in));
	if (!src) {
		log_ratelimited(&rl_hypercall, "vp %u: HvPostMessage input GPA %#" PRIx64
				" is not guest RAM", vp, input_gpa);
		return HV_STATUS_INVALID_PARAMETER;
	}
	/* One copy, then every check on the copy: the guest may change its page. */
	memcpy(&in, src, sizeof(in));
	if (in.connection_id != VMBUS_MESSAGE_CONNECTION_ID &&
	    in.connection_id != VMBUS_MESSAGE_CONNECTION_ID_4)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if ((int32_t)in.message_type <= 0 || in.payload_size > HV_MESSAGE_PAYLOAD_BYTES)
		return HV_STATUS_INVALID_PARAMETER;
	if (!hv->vmbus)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (synic_backlog(hv->synic, VMBUS_MESSAGE_SINT) >= POST_BACKLOG_LIMIT)
		return HV_STATUS_INSUFFICIENT_BUFFERS;

	hv->posts++;
	TRACE("hv: vp %u post connection %u type %u, %u bytes", vp, in.connection_id,
	      in.message_type, in.payload_size);
	status = vmbus_server_post(hv->vmbus, vp, in.connection_id, in.message_type,
				   in.payload, in.payload_size);
	hypervisor_update_monitor_poll(hv);
	return status;
}

static uint16_t hvcall_signal_event(struct hypervisor *hv, uint32_t vp, uint64_t control,
				    uint64_t input)
{
	uint64_t param;

	if (control & HV_HYPERCALL_FAST) {
		param = input;
	} else {
		const void *src;

		if (input % 8)
			return HV_STATUS_INVALID_ALIGNMENT;
		src = guest_mem_ptr(hv->mem, input, sizeof(param));
		if (!src) {
			log_ratelimited(&rl_hypercall, "vp %u: HvSignalEvent input GPA %#"
					PRIx64 " is not guest RAM", vp, input);
			return HV_STATUS_INVALID_PARAMETER;
		}
		memcpy(&param, src, sizeof(param));
	}
	/* Bits 0-31: connection ID (24 significant); 32-47: flag number. */
	if ((uint32_t)param == 0 || (uint32_t)param > HV_CONNECTION_ID_MASK)
		return HV_STATUS_INVALID_CONNECTION_ID;
	signal_connection(hv, (uint32_t)param);
	hypervisor_update_monitor_poll(hv);
	return HV_STATUS_SUCCESS;
}

static uint64_t do_hypercall(struct hypervisor *hv, uint32_t vp, const uint64_t in[4])
{
	uint64_t control = in[0];
	uint16_t code = (uint16_t)(control & HV_HYPERCALL_CODE_MASK);
	uint16_t status;

	bool rep = (control >> HV_HYPERCALL_REP_COUNT_SHIFT) & HV_HYPERCALL_REP_MASK;

	switch (code) {
	case HVCALL_POST_MESSAGE:
		/* Neither call is a rep call. */
		status = rep ? HV_STATUS_INVALID_HYPERCALL_INPUT :
			 hvcall_post_message(hv, vp, control, in[1]);
		break;
	case HVCALL_SIGNAL_EVENT:
		status = rep ? HV_STATUS_INVALID_HYPERCALL_INPUT :
			 hvcall_signal_event(hv, vp, control, in[1]);
		break;
	default:
		status = HV_STATUS_INVALID_HYPERCALL_CODE;
		break;
	}
	if (status != HV_STATUS_SUCCESS && status != HV_STATUS_INSUFFICIENT_BUFFERS)
		log_ratelimited(&rl_hypercall, "vp %u: hypercall %#x (control %#" PRIx64
				") failed with status %#x", vp, code, control, status);
	return status;
}

/* ---- the trap mailboxes ---- */

static uint8_t *mailbox_of(struct hypervisor *hv, uint32_t vp)
{
	return hv->shm + HVSIM_MAILBOX_OFFSET + (size_t)vp * HVSIM_MAILBOX_STRIDE;
}

#define MB_FIELD(mb, field) ((mb) + offsetof(struct hvsim_mailbox, field))

static void serve_mailbox(struct hypervisor *hv, uint32_t vp, uint8_t *mb, uint32_t seq)
{
	uint64_t in[4], out[4] = { 0 };
	uint32_t op, status = HVSIM_STATUS_OK;
	int err;

	/* Private copies, read after the acquire of request_seq. */
	memcpy(&op, MB_FIELD(mb, op), sizeof(op));
	memcpy(in, MB_FIELD(mb, in), sizeof(in));
	hv->traps++;

	switch (op) {
	case HVSIM_OP_CPUID: {
		uint32_t regs[4];

		do_cpuid(hv, (uint32_t)in[0], regs);
		out[0] = regs[0];
		out[1] = regs[1];
		out[2] = regs[2];
		out[3] = regs[3];
		TRACE("hv: vp %u cpuid %#x -> %#x %#x %#x %#x", vp, (uint32_t)in[0],
		      regs[0], regs[1], regs[2], regs[3]);
		break;
	}
	case HVSIM_OP_RDMSR:
		err = in[0] > UINT32_MAX ? -EPERM : do_rdmsr(hv, vp, (uint32_t)in[0], &out[0]);
		if (err) {
			out[0] = 0;
			status = HVSIM_STATUS_GP_FAULT;
			log_ratelimited(&rl_msr, "vp %u: rdmsr %#" PRIx64 ": #GP", vp, in[0]);
		}
		TRACE("hv: vp %u rdmsr %#" PRIx64 " -> %#" PRIx64 "%s", vp, in[0], out[0],
		      status ? " #GP" : "");
		break;
	case HVSIM_OP_WRMSR:
		err = in[0] > UINT32_MAX ? -EPERM : do_wrmsr(hv, vp, (uint32_t)in[0], in[1]);
		if (err) {
			status = HVSIM_STATUS_GP_FAULT;
			log_ratelimited(&rl_msr, "vp %u: wrmsr %#" PRIx64 " = %#" PRIx64 ": #GP",
					vp, in[0], in[1]);
		}
		TRACE("hv: vp %u wrmsr %#" PRIx64 " = %#" PRIx64 "%s", vp, in[0], in[1],
		      status ? " #GP" : "");
		break;
	case HVSIM_OP_HYPERCALL:
		if (!(hv->hypercall & HV_MSR_HYPERCALL_ENABLE)) {
			status = HVSIM_STATUS_UD_FAULT;
			log_ratelimited(&rl_hypercall,
					"vp %u: hypercall before the hypercall page is enabled: #UD",
					vp);
			break;
		}
		out[0] = do_hypercall(hv, vp, in);
		TRACE("hv: vp %u hypercall %#" PRIx64 " -> %#" PRIx64, vp, in[0], out[0]);
		break;
	default:
		status = HVSIM_STATUS_BAD_OP;
		log_ratelimited(&rl_op, "vp %u: unknown mailbox op %u", vp, op);
		break;
	}

	memcpy(MB_FIELD(mb, out), out, sizeof(out));
	memcpy(MB_FIELD(mb, status), &status, sizeof(status));
	__atomic_store_n((uint32_t *)MB_FIELD(mb, response_seq), seq, __ATOMIC_RELEASE);
}

void hypervisor_process_mailboxes(struct hypervisor *hv)
{
	uint32_t vp;

	for (vp = 0; vp < hv->nr_vps; vp++) {
		uint8_t *mb = mailbox_of(hv, vp);
		uint32_t req = __atomic_load_n((uint32_t *)MB_FIELD(mb, request_seq),
					       __ATOMIC_ACQUIRE);
		uint32_t resp = __atomic_load_n((uint32_t *)MB_FIELD(mb, response_seq),
						__ATOMIC_RELAXED);

		if (req != resp)
			serve_mailbox(hv, vp, mb, req);
	}
}

void hypervisor_process_signals(struct hypervisor *hv)
{
	uint64_t *bitmap = (uint64_t *)(hv->shm + HVSIM_SIGNAL_OFFSET);
	uint32_t word;

	for (word = 0; word < HVSIM_SIGNAL_CONNECTIONS / 64; word++) {
		uint64_t bits;

		if (!__atomic_load_n(&bitmap[word], __ATOMIC_RELAXED))
			continue;
		bits = __atomic_exchange_n(&bitmap[word], 0, __ATOMIC_ACQ_REL);
		while (bits) {
			uint32_t bit = (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			/* Connection ID 0 does not exist; a stray bit is ignored. */
			if (word || bit)
				signal_connection(hv, word * 64 + bit);
		}
	}
	hypervisor_update_monitor_poll(hv);
}

void hypervisor_doorbell(struct hypervisor *hv, unsigned int vector)
{
	switch (vector) {
	case HVSIM_VECTOR_TRAP:
		hypervisor_process_mailboxes(hv);
		break;
	case HVSIM_VECTOR_SIGNAL:
		hypervisor_process_signals(hv);
		break;
	default:
		log_ratelimited(&rl_op, "guest rang unused host vector %u", vector);
		break;
	}
}

void hypervisor_describe(struct hypervisor *hv, FILE *out)
{
	fprintf(out, "guest-os-id %#" PRIx64 "\nhypercall %#" PRIx64 "\n"
		"reference-time %" PRIu64 "\ntsc-frequency %" PRIu64 "\n"
		"traps %" PRIu64 "\nposts %" PRIu64 "\nsignals %" PRIu64 "\n"
		"monitor-poll %s\ncrashed %s\n",
		hv->guest_os_id, hv->hypercall, hypervisor_reference_time(hv),
		hv->tsc_frequency, hv->traps, hv->posts, hv->signals,
		loop_timer_armed(hv->monitor_timer) ? "on" : "off",
		hv->crashed ? "yes" : "no");
	synic_describe(hv->synic, out);
}
