// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The SynIC (message slots, pending flag, EOM, event flags, interrupts)
 * and the hypervisor's trap mailboxes, against a RAM file in /tmp, eventfds
 * standing in for the guest's MSI-X vectors, and a recording stand-in for
 * the VMBus server.
 *
 * Link: synic.c hypervisor.c guest_mem.c loop.c log.c trace.c (not the
 * VMBus server: this file provides the vmbus_server_* functions).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "viridian/wire/hv.h"
#include "viridian/wire/sim.h"
#include "viridian/wire/vmbus.h"
#include "core/guest_mem.h"
#include "core/loop.h"
#include "hypervisor/hypervisor.h"
#include "hypervisor/synic.h"
#include "vmbus/server.h"

#define RAM_PAGES	64
#define NR_VPS		2
#define SIMP_PFN	10
#define SIEFP_PFN	11
#define MSG_PFN		20	/* HvPostMessage input page */

static char ram_path[64];
static struct guest_mem mem;
static int irq_fds[NR_VPS];
static struct synic *synic;

/* ---- the VMBus server stand-in ---- */

struct vmbus_server {
	int dummy;
};

static struct vmbus_server fake_vmbus;
static struct {
	unsigned int posts;
	uint32_t vp, connection_id, type, len;
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
	uint16_t status;
	uint32_t signals[16];
	unsigned int nr_signals;
} seen;

uint16_t vmbus_server_post(struct vmbus_server *srv, uint32_t vp, uint32_t connection_id,
			   uint32_t message_type, const void *payload, uint32_t len)
{
	(void)srv;
	seen.posts++;
	seen.vp = vp;
	seen.connection_id = connection_id;
	seen.type = message_type;
	seen.len = len;
	memcpy(seen.payload, payload, len);
	return seen.status;
}

void vmbus_server_signal(struct vmbus_server *srv, uint32_t connection_id)
{
	(void)srv;
	if (seen.nr_signals < 16)
		seen.signals[seen.nr_signals] = connection_id;
	seen.nr_signals++;
}

void vmbus_server_poll_monitor(struct vmbus_server *srv)
{
	(void)srv;
}

bool vmbus_server_wants_monitor_poll(struct vmbus_server *srv)
{
	(void)srv;
	return false;
}

/* ---- helpers ---- */

/* Interrupts raised on a VP since the last call. */
static uint64_t irqs(uint32_t vp)
{
	uint64_t n = 0;

	if (read(irq_fds[vp], &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static struct hv_message *slot(uint32_t vp, uint32_t sint)
{
	struct hv_message_page *p = (void *)(mem.base + (SIMP_PFN + vp * 2) * GUEST_PAGE_SIZE);

	return &p->sint_message[sint];
}

static uint64_t *event_word(uint32_t vp, uint32_t sint, uint32_t flag)
{
	uint8_t *p = mem.base + (SIEFP_PFN + vp * 2) * GUEST_PAGE_SIZE;

	return (uint64_t *)(p + sint * 256) + flag / 64;
}

static uint32_t slot_type(uint32_t vp, uint32_t sint)
{
	return __atomic_load_n((uint32_t *)slot(vp, sint), __ATOMIC_ACQUIRE);
}

static uint8_t slot_flags(uint32_t vp, uint32_t sint)
{
	return __atomic_load_n((uint8_t *)slot(vp, sint) + 5, __ATOMIC_ACQUIRE);
}

/* What the guest does after consuming a slot. Returns true if it wrote EOM. */
static bool guest_free_slot(uint32_t vp, uint32_t sint)
{
	__atomic_store_n((uint32_t *)slot(vp, sint), HVMSG_NONE, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (slot_flags(vp, sint) & HV_MESSAGE_FLAG_PENDING) {
		synic_wrmsr(synic, vp, HV_MSR_EOM, 0);
		return true;
	}
	return false;
}

static void enable_vp(uint32_t vp)
{
	synic_wrmsr(synic, vp, HV_MSR_SIMP,
		    (uint64_t)(SIMP_PFN + vp * 2) * GUEST_PAGE_SIZE | HV_MSR_SIMP_ENABLE);
	synic_wrmsr(synic, vp, HV_MSR_SIEFP,
		    (uint64_t)(SIEFP_PFN + vp * 2) * GUEST_PAGE_SIZE | HV_MSR_SIEFP_ENABLE);
	synic_wrmsr(synic, vp, HV_MSR_SINT0 + 2, 0x30);
	synic_wrmsr(synic, vp, HV_MSR_SCONTROL, HV_MSR_SCONTROL_ENABLE);
}

static void reset_synic(void)
{
	uint32_t vp;

	synic_free(synic);
	memset(mem.base, 0, mem.size);
	synic = synic_new(&mem, NR_VPS, irq_fds);
	for (vp = 0; vp < NR_VPS; vp++) {
		irqs(vp);
		enable_vp(vp);
		irqs(vp);
	}
}

/* ---- SynIC ---- */

static void test_post_into_empty_slot(void)
{
	struct hv_message *m;

	reset_synic();
	REQUIRE(synic);
	CHECK(synic_post_message(synic, 0, 2, HVMSG_VMBUS, "hello", 5) == 0);
	m = slot(0, 2);
	CHECK(m->header.message_type == HVMSG_VMBUS);
	CHECK(m->header.payload_size == 5);
	CHECK(m->header.message_flags == 0);
	CHECK(memcmp(m->payload, "hello", 5) == 0);
	CHECK(((uint8_t *)m->payload)[5] == 0);
	CHECK(irqs(0) == 1);
	CHECK(irqs(1) == 0);
	/* Other SINTs' slots untouched. */
	CHECK(slot_type(0, 1) == HVMSG_NONE && slot_type(0, 3) == HVMSG_NONE);
}

static void test_pending_flag_and_eom(void)
{
	reset_synic();
	CHECK(synic_post_message(synic, 0, 2, HVMSG_VMBUS, "one", 3) == 0);
	CHECK(irqs(0) == 1);
	CHECK(synic_post_message(synic, 0, 2, HVMSG_VMBUS, "two", 3) == 0);
	CHECK(synic_post_message(synic, 0, 2, 7, "three", 5) == 0);
	/* The slot keeps the first message and is flagged; no new interrupt. */
	CHECK(memcmp(slot(0, 2)->payload, "one", 3) == 0);
	CHECK(slot_flags(0, 2) & HV_MESSAGE_FLAG_PENDING);
	CHECK(irqs(0) == 0);

	/* EOM with the slot still busy delivers nothing. */
	CHECK(synic_wrmsr(synic, 0, HV_MSR_EOM, 0) == 0);
	CHECK(memcmp(slot(0, 2)->payload, "one", 3) == 0);
	CHECK(irqs(0) == 0);

	CHECK(guest_free_slot(0, 2));
	CHECK(slot_type(0, 2) == HVMSG_VMBUS);
	CHECK(memcmp(slot(0, 2)->payload, "two", 3) == 0);
	CHECK(slot_flags(0, 2) & HV_MESSAGE_FLAG_PENDING);	/* "three" waits */
	CHECK(irqs(0) == 1);

	CHECK(guest_free_slot(0, 2));
	CHECK(slot_type(0, 2) == 7);
	CHECK(slot(0, 2)->header.payload_size == 5);
	CHECK(slot_flags(0, 2) == 0);
	CHECK(irqs(0) == 1);

	CHECK(!guest_free_slot(0, 2));
	CHECK(slot_type(0, 2) == HVMSG_NONE);
}

static void test_queue_limit(void)
{
	unsigned int i;

	reset_synic();
	for (i = 0; i < SYNIC_QUEUE_LIMIT + 1; i++)
		REQUIRE(synic_post_message(synic, 1, 2, HVMSG_VMBUS, &i, sizeof(i)) == 0);
	/* One in the slot, SYNIC_QUEUE_LIMIT queued: the next is refused. */
	CHECK(synic_post_message(synic, 1, 2, HVMSG_VMBUS, &i, sizeof(i)) == -EAGAIN);
	CHECK(guest_free_slot(1, 2));
	CHECK(synic_post_message(synic, 1, 2, HVMSG_VMBUS, &i, sizeof(i)) == 0);
	/* Everything comes out, in order. */
	for (i = 1; i <= SYNIC_QUEUE_LIMIT + 1; i++) {
		uint32_t got;

		memcpy(&got, slot(1, 2)->payload, sizeof(got));
		REQUIRE(slot_type(1, 2) == HVMSG_VMBUS);
		CHECKF(got == i, "message %u came out as %u", i, got);
		guest_free_slot(1, 2);
	}
	CHECK(slot_type(1, 2) == HVMSG_NONE);
}

static void test_masked_sint_queues(void)
{
	reset_synic();
	/* SINT 3 is masked: the message waits for the guest to unmask. */
	CHECK(synic_post_message(synic, 0, 3, HVMSG_VMBUS, "x", 1) == -ENODEV);
	CHECK(slot_type(0, 3) == HVMSG_NONE);
	CHECK(irqs(0) == 0);
	CHECK(synic_wrmsr(synic, 0, HV_MSR_SINT0 + 3, 0x31) == 0);
	CHECK(slot_type(0, 3) == HVMSG_VMBUS);
	CHECK(irqs(0) == 1);

	/* SIMP disabled: same. */
	CHECK(synic_wrmsr(synic, 1, HV_MSR_SIMP, 0) == 0);
	CHECK(synic_post_message(synic, 1, 2, HVMSG_VMBUS, "y", 1) == -ENODEV);
	CHECK(irqs(1) == 0);
	CHECK(synic_wrmsr(synic, 1, HV_MSR_SIMP,
			  (SIMP_PFN + 2) * GUEST_PAGE_SIZE | HV_MSR_SIMP_ENABLE) == 0);
	CHECK(slot_type(1, 2) == HVMSG_VMBUS);
	CHECK(irqs(1) == 1);
}

static void test_event_flag_interrupts_once(void)
{
	reset_synic();
	CHECK(synic_signal_event(synic, 0, 2, 70) == 0);
	CHECK(*event_word(0, 2, 70) == 1ull << 6);
	CHECK(irqs(0) == 1);
	/* Already set: no second interrupt. */
	CHECK(synic_signal_event(synic, 0, 2, 70) == 0);
	CHECK(irqs(0) == 0);
	/* Another flag of the same SINT interrupts again. */
	CHECK(synic_signal_event(synic, 0, 2, 0) == 0);
	CHECK(*event_word(0, 2, 0) == 1);
	CHECK(irqs(0) == 1);
	/* The guest clears the flag: the next signal interrupts. */
	__atomic_and_fetch(event_word(0, 2, 70), ~(1ull << 6), __ATOMIC_SEQ_CST);
	CHECK(synic_signal_event(synic, 0, 2, 70) == 0);
	CHECK(irqs(0) == 1);
	CHECK(irqs(1) == 0);
	/* Other SINTs' areas untouched. */
	CHECK(*event_word(0, 1, 70) == 0 && *event_word(0, 3, 70) == 0);
}

static void test_event_flag_masked(void)
{
	reset_synic();
	/* Masked SINT: the flag is set, nobody is interrupted... */
	CHECK(synic_signal_event(synic, 1, 5, 2047) == 0);
	CHECK(*event_word(1, 5, 2047) == 1ull << 63);
	CHECK(irqs(1) == 0);
	/* ...until the guest unmasks it. */
	CHECK(synic_wrmsr(synic, 1, HV_MSR_SINT0 + 5, 0x35) == 0);
	CHECK(irqs(1) == 1);
	/* SIEFP disabled: nowhere to put the flag. */
	CHECK(synic_wrmsr(synic, 1, HV_MSR_SIEFP, 0) == 0);
	CHECK(synic_signal_event(synic, 1, 2, 1) == -ENODEV);
	CHECK(irqs(1) == 0);
}

static void test_bad_arguments(void)
{
	uint8_t big[HV_MESSAGE_PAYLOAD_BYTES + 1] = { 0 };

	reset_synic();
	CHECK(synic_post_message(synic, NR_VPS, 2, 1, "x", 1) == -EINVAL);
	CHECK(synic_post_message(synic, 0, 16, 1, "x", 1) == -EINVAL);
	CHECK(synic_post_message(synic, 0, 2, HVMSG_NONE, "x", 1) == -EINVAL);
	CHECK(synic_post_message(synic, 0, 2, 1, big, sizeof(big)) == -EINVAL);
	CHECK(synic_post_message(synic, 0, 2, 1, big, HV_MESSAGE_PAYLOAD_BYTES) == 0);
	CHECK(synic_signal_event(synic, 0, 2, HV_SYNIC_EVENT_FLAG_COUNT) == -EINVAL);
	CHECK(synic_signal_event(synic, 0, 16, 0) == -EINVAL);
	CHECK(synic_signal_event(synic, NR_VPS, 2, 0) == -EINVAL);
}

static void test_msrs(void)
{
	uint64_t v = 0;

	reset_synic();
	CHECK(synic_rdmsr(synic, 0, HV_MSR_SVERSION, &v) == 0 && v == HV_SYNIC_VERSION);
	CHECK(synic_wrmsr(synic, 0, HV_MSR_SVERSION, 2) == -EPERM);
	CHECK(synic_rdmsr(synic, 0, HV_MSR_SIMP, &v) == 0 &&
	      v == (SIMP_PFN * GUEST_PAGE_SIZE | HV_MSR_SIMP_ENABLE));
	CHECK(synic_rdmsr(synic, 0, HV_MSR_SINT0 + 2, &v) == 0 && v == 0x30);
	CHECK(synic_rdmsr(synic, 0, HV_MSR_SINT15, &v) == 0 && v == HV_SINT_MASKED);
	/* Pages outside RAM: #GP, and the old value stays. */
	CHECK(synic_wrmsr(synic, 0, HV_MSR_SIMP,
			  (uint64_t)RAM_PAGES * GUEST_PAGE_SIZE | HV_MSR_SIMP_ENABLE) == -EPERM);
	CHECK(synic_wrmsr(synic, 0, HV_MSR_SIEFP, ~0xfffull | HV_MSR_SIEFP_ENABLE) == -EPERM);
	CHECK(synic_rdmsr(synic, 0, HV_MSR_SIMP, &v) == 0 &&
	      v == (SIMP_PFN * GUEST_PAGE_SIZE | HV_MSR_SIMP_ENABLE));
	/* A disabled page may point anywhere. */
	CHECK(synic_wrmsr(synic, 0, HV_MSR_SIMP, (uint64_t)RAM_PAGES * GUEST_PAGE_SIZE) == 0);
	CHECK(synic_rdmsr(synic, 0, HV_MSR_EOM, &v) == 0 && v == 0);
	CHECK(synic_rdmsr(synic, 0, HV_MSR_GUEST_OS_ID, &v) == -ENOENT);
	CHECK(synic_wrmsr(synic, 0, 0x12345678, 0) == -ENOENT);
}

/* ---- many posters, one guest: no message lost, per-poster order kept ---- */

#define STRESS_PER_THREAD	3000

struct stress_msg {
	uint32_t thread;
	uint32_t seq;
};

static void *stress_poster(void *arg)
{
	struct stress_msg m = { .thread = (uint32_t)(uintptr_t)arg };

	for (m.seq = 0; m.seq < STRESS_PER_THREAD; m.seq++) {
		while (synic_post_message(synic, 0, 2, HVMSG_VMBUS, &m, sizeof(m)) == -EAGAIN)
			sched_yield();
	}
	return NULL;
}

static void test_concurrent_posts(void)
{
	uint32_t next[2] = { 0, 0 }, total = 0;
	pthread_t t[2];
	unsigned int spins = 0;

	reset_synic();
	REQUIRE(pthread_create(&t[0], NULL, stress_poster, (void *)0) == 0);
	REQUIRE(pthread_create(&t[1], NULL, stress_poster, (void *)1) == 0);
	while (total < 2 * STRESS_PER_THREAD && spins < 100000000) {
		struct stress_msg m;

		if (slot_type(0, 2) == HVMSG_NONE) {
			spins++;
			sched_yield();
			continue;
		}
		memcpy(&m, slot(0, 2)->payload, sizeof(m));
		if (m.thread > 1 || m.seq != next[m.thread]) {
			CHECKF(false, "thread %u message %u out of order (expected %u)",
			       m.thread, m.seq, m.thread > 1 ? 0 : next[m.thread]);
			break;
		}
		next[m.thread]++;
		total++;
		guest_free_slot(0, 2);
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	CHECKF(total == 2 * STRESS_PER_THREAD, "received %u of %u", total,
	       2 * STRESS_PER_THREAD);
	irqs(0);
}

/* ---- the hypervisor's mailboxes ---- */

static struct loop *loop;
static struct hypervisor *hv;
static uint8_t *shm;
static uint32_t seqs[NR_VPS];

static struct hvsim_mailbox *mailbox(uint32_t vp)
{
	return (void *)(shm + HVSIM_MAILBOX_OFFSET + vp * HVSIM_MAILBOX_STRIDE);
}

/* One synchronous trap, as the guest's back end would issue it. */
static uint32_t trap(uint32_t vp, uint32_t op, uint64_t a, uint64_t b, uint64_t c,
		     uint64_t out[4])
{
	struct hvsim_mailbox *mb = mailbox(vp);
	uint32_t seq = ++seqs[vp], status;

	mb->op = op;
	mb->in[0] = a;
	mb->in[1] = b;
	mb->in[2] = c;
	__atomic_store_n((uint32_t *)mb, seq, __ATOMIC_RELEASE);
	hypervisor_doorbell(hv, HVSIM_VECTOR_TRAP);
	if (__atomic_load_n((uint32_t *)mb + 1, __ATOMIC_ACQUIRE) != seq)
		return 0xdead;
	memcpy(out, (void *)mb->out, 4 * sizeof(uint64_t));
	memcpy(&status, (uint8_t *)mb + 12, sizeof(status));
	return status;
}

static uint32_t wrmsr(uint32_t vp, uint64_t msr, uint64_t value)
{
	uint64_t out[4];

	return trap(vp, HVSIM_OP_WRMSR, msr, value, 0, out);
}

static uint32_t rdmsr(uint32_t vp, uint64_t msr, uint64_t *value)
{
	uint64_t out[4];
	uint32_t status = trap(vp, HVSIM_OP_RDMSR, msr, 0, 0, out);

	*value = out[0];
	return status;
}

static uint64_t hypercall(uint32_t vp, uint64_t control, uint64_t in, uint32_t *status)
{
	uint64_t out[4] = { 0 };

	*status = trap(vp, HVSIM_OP_HYPERCALL, control, in, 0, out);
	return out[0];
}

static void test_hv_cpuid(void)
{
	uint64_t out[4];

	CHECK(trap(0, HVSIM_OP_CPUID, HV_CPUID_VENDOR_AND_MAX, 0, 0, out) == HVSIM_STATUS_OK);
	CHECK(out[0] == HV_CPUID_MAX_LEAF);
	{
		uint32_t sig[3] = { (uint32_t)out[1], (uint32_t)out[2], (uint32_t)out[3] };

		CHECK(memcmp(sig, "Microsoft Hv", 12) == 0);
	}
	CHECK(trap(1, HVSIM_OP_CPUID, HV_CPUID_INTERFACE, 0, 0, out) == HVSIM_STATUS_OK);
	CHECK(memcmp(&(uint32_t){ (uint32_t)out[0] }, "Hv#1", 4) == 0);
	CHECK(trap(0, HVSIM_OP_CPUID, HV_CPUID_FEATURES, 0, 0, out) == HVSIM_STATUS_OK);
	CHECK(out[0] & HV_PRIV_ACCESS_SYNIC_REGS && out[0] & HV_PRIV_ACCESS_HYPERCALL_MSRS &&
	      out[0] & HV_PRIV_ACCESS_VP_INDEX && out[0] & HV_PRIV_ACCESS_TIME_REF_COUNT);
	CHECK(out[1] & HV_PRIV_POST_MESSAGES && out[1] & HV_PRIV_SIGNAL_EVENTS);
	CHECK(out[3] & HV_FEATURE_GUEST_CRASH_MSRS);
	CHECK(trap(0, HVSIM_OP_CPUID, HV_CPUID_IMPLEMENT_LIMITS, 0, 0, out) == HVSIM_STATUS_OK);
	CHECK(out[0] == NR_VPS);
	CHECK(trap(0, HVSIM_OP_CPUID, 0x40000100, 0, 0, out) == HVSIM_STATUS_OK);
	CHECK(out[0] == 0 && out[1] == 0);
	CHECK(trap(0, 99, 0, 0, 0, out) == HVSIM_STATUS_BAD_OP);
}

static void test_hv_msrs(void)
{
	uint64_t v, t1, t2;

	CHECK(rdmsr(1, HV_MSR_VP_INDEX, &v) == HVSIM_STATUS_OK && v == 1);
	CHECK(rdmsr(0, HV_MSR_VP_INDEX, &v) == HVSIM_STATUS_OK && v == 0);
	CHECK(wrmsr(0, HV_MSR_VP_INDEX, 5) == HVSIM_STATUS_GP_FAULT);
	CHECK(rdmsr(0, 0x40000fff, &v) == HVSIM_STATUS_GP_FAULT);
	CHECK(wrmsr(0, 0x40000fff, 1) == HVSIM_STATUS_GP_FAULT);
	CHECK(rdmsr(0, HV_MSR_TIME_REF_COUNT, &t1) == HVSIM_STATUS_OK);
	usleep(2000);
	CHECK(rdmsr(0, HV_MSR_TIME_REF_COUNT, &t2) == HVSIM_STATUS_OK);
	CHECKF(t2 - t1 >= 20000 && t2 - t1 < 10000000, "2 ms took %llu x 100 ns",
	       (unsigned long long)(t2 - t1));
	CHECK(rdmsr(0, HV_MSR_SVERSION, &v) == HVSIM_STATUS_OK && v == 1);
	/* SynIC MSRs reach the SynIC of the trapping VP. */
	CHECK(wrmsr(1, HV_MSR_SIMP, 30 * GUEST_PAGE_SIZE | 1) == HVSIM_STATUS_OK);
	CHECK(rdmsr(1, HV_MSR_SIMP, &v) == HVSIM_STATUS_OK && v == (30 * GUEST_PAGE_SIZE | 1));
	CHECK(rdmsr(0, HV_MSR_SIMP, &v) == HVSIM_STATUS_OK && v == 0);
	CHECK(wrmsr(1, HV_MSR_SIMP, (uint64_t)RAM_PAGES * GUEST_PAGE_SIZE | 1) ==
	      HVSIM_STATUS_GP_FAULT);
	/* Reference TSC page: sequence 0 sends the guest to the MSR. */
	memset(mem.base + 31 * GUEST_PAGE_SIZE, 0xff, 8);
	CHECK(wrmsr(0, HV_MSR_REFERENCE_TSC, 31 * GUEST_PAGE_SIZE | 1) == HVSIM_STATUS_OK);
	CHECK(*(uint32_t *)(mem.base + 31 * GUEST_PAGE_SIZE) == 0);
	CHECK(wrmsr(0, HV_MSR_REFERENCE_TSC, (uint64_t)RAM_PAGES * GUEST_PAGE_SIZE | 1) ==
	      HVSIM_STATUS_GP_FAULT);
	CHECK(rdmsr(0, HV_MSR_CRASH_CTL, &v) == HVSIM_STATUS_OK &&
	      v == (HV_MSR_CRASH_CTL_NOTIFY | HV_MSR_CRASH_CTL_MESSAGE));
}

static void test_hv_hypercall_enable(void)
{
	uint32_t status;
	uint64_t v;

	/* Before the hypercall page: #UD. */
	hypercall(0, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST, 5, &status);
	CHECK(status == HVSIM_STATUS_UD_FAULT);
	/* Without a guest OS ID the enable bit does not stick. */
	CHECK(wrmsr(0, HV_MSR_HYPERCALL, 40 * GUEST_PAGE_SIZE | 1) == HVSIM_STATUS_OK);
	CHECK(rdmsr(0, HV_MSR_HYPERCALL, &v) == HVSIM_STATUS_OK && !(v & 1));
	CHECK(wrmsr(0, HV_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_OPEN_SOURCE |
		    HV_GUEST_OS_ID_LINUX) == HVSIM_STATUS_OK);
	CHECK(wrmsr(0, HV_MSR_HYPERCALL, (uint64_t)RAM_PAGES * GUEST_PAGE_SIZE | 1) ==
	      HVSIM_STATUS_GP_FAULT);
	CHECK(wrmsr(0, HV_MSR_HYPERCALL, 40 * GUEST_PAGE_SIZE | 1) == HVSIM_STATUS_OK);
	CHECK(rdmsr(1, HV_MSR_HYPERCALL, &v) == HVSIM_STATUS_OK &&
	      v == (40 * GUEST_PAGE_SIZE | 1));
	CHECK(hypercall(1, 0x99, 0, &status) == HV_STATUS_INVALID_HYPERCALL_CODE);
	CHECK(status == HVSIM_STATUS_OK);
}

static uint64_t put_post_input(uint64_t gpa, uint32_t conn, uint32_t type, uint32_t size)
{
	struct hv_input_post_message *in = (void *)(mem.base + gpa);

	memset(in, 0, sizeof(*in));
	in->connection_id = conn;
	in->message_type = type;
	in->payload_size = size;
	memcpy(in->payload, "payload!", 8);
	return gpa;
}

static void test_hv_post_message(void)
{
	const uint64_t gpa = MSG_PFN * GUEST_PAGE_SIZE;
	uint32_t status;

	memset(&seen, 0, sizeof(seen));
	hypervisor_set_vmbus(hv, &fake_vmbus);
	CHECK(hypercall(1, HVCALL_POST_MESSAGE, put_post_input(gpa, 4, 1, 8), &status) ==
	      HV_STATUS_SUCCESS && status == HVSIM_STATUS_OK);
	CHECK(seen.posts == 1 && seen.vp == 1 && seen.connection_id == 4 && seen.type == 1 &&
	      seen.len == 8 && memcmp(seen.payload, "payload!", 8) == 0);
	/* The VMBus server's status goes back to the guest. */
	seen.status = HV_STATUS_INSUFFICIENT_BUFFERS;
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 1, 1, 240), &status) ==
	      HV_STATUS_INSUFFICIENT_BUFFERS);
	seen.status = 0;
	CHECK(seen.posts == 2 && seen.len == 240 && seen.connection_id == 1);

	CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 1, 1, 241), &status) ==
	      HV_STATUS_INVALID_PARAMETER);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 2, 1, 8), &status) ==
	      HV_STATUS_INVALID_CONNECTION_ID);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 1, 0, 8), &status) ==
	      HV_STATUS_INVALID_PARAMETER);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 1, 0x80000001u, 8),
			&status) == HV_STATUS_INVALID_PARAMETER);
	/* Misaligned, crossing a page, outside RAM. */
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, gpa + 4, &status) == HV_STATUS_INVALID_ALIGNMENT);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, gpa + 4096 - 128, &status) ==
	      HV_STATUS_INVALID_ALIGNMENT);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, (uint64_t)RAM_PAGES * GUEST_PAGE_SIZE, &status) ==
	      HV_STATUS_INVALID_PARAMETER);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE, UINT64_MAX & ~0xfffull, &status) ==
	      HV_STATUS_INVALID_PARAMETER);
	/* Fast and rep forms do not exist for HvPostMessage. */
	CHECK(hypercall(0, HVCALL_POST_MESSAGE | HV_HYPERCALL_FAST, gpa, &status) ==
	      HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK(hypercall(0, HVCALL_POST_MESSAGE | 1ull << HV_HYPERCALL_REP_COUNT_SHIFT, gpa,
			&status) == HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK(seen.posts == 2);

	/* Answers piling up unread on the VMBus SINT: the port pushes back. */
	{
		struct synic *sy = hypervisor_synic(hv);
		unsigned int i;

		CHECK(synic_backlog(sy, VMBUS_MESSAGE_SINT) == 0);
		for (i = 0; i < SYNIC_QUEUE_LIMIT / 2; i++)
			synic_post_message(sy, 1, VMBUS_MESSAGE_SINT, 1, &i, sizeof(i));
		CHECK(synic_backlog(sy, VMBUS_MESSAGE_SINT) == SYNIC_QUEUE_LIMIT / 2);
		CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 1, 1, 8), &status) ==
		      HV_STATUS_INSUFFICIENT_BUFFERS);
		CHECK(seen.posts == 2);
		/* The guest enables its SynIC and drains: posts flow again. */
		CHECK(wrmsr(1, HV_MSR_SIMP, 30 * GUEST_PAGE_SIZE | 1) == HVSIM_STATUS_OK);
		CHECK(wrmsr(1, HV_MSR_SINT0 + VMBUS_MESSAGE_SINT, 0x30) == HVSIM_STATUS_OK);
		CHECK(wrmsr(1, HV_MSR_SCONTROL, 1) == HVSIM_STATUS_OK);
		for (i = 0; i < SYNIC_QUEUE_LIMIT / 2; i++) {
			uint32_t *type = (uint32_t *)(mem.base + 30 * GUEST_PAGE_SIZE +
						      VMBUS_MESSAGE_SINT * HV_MESSAGE_SIZE);

			REQUIRE(*type == 1);
			__atomic_store_n(type, HVMSG_NONE, __ATOMIC_SEQ_CST);
			CHECK(wrmsr(1, HV_MSR_EOM, 0) == HVSIM_STATUS_OK);
		}
		CHECK(synic_backlog(sy, VMBUS_MESSAGE_SINT) == 0);
		CHECK(hypercall(0, HVCALL_POST_MESSAGE, put_post_input(gpa, 1, 1, 8), &status) ==
		      HV_STATUS_SUCCESS);
		CHECK(seen.posts == 3);
	}
}

static void test_hv_signals(void)
{
	uint64_t *bitmap = (uint64_t *)(shm + HVSIM_SIGNAL_OFFSET);
	uint32_t status;

	memset(&seen, 0, sizeof(seen));
	bitmap[0] = 1ull << 5 | 1;	/* bit 0: no such connection, ignored */
	bitmap[2] = 1ull << 2;
	bitmap[63] = 1ull << 63;
	hypervisor_doorbell(hv, HVSIM_VECTOR_SIGNAL);
	CHECK(seen.nr_signals == 3);
	CHECK(seen.signals[0] == 5 && seen.signals[1] == 130 && seen.signals[2] == 4095);
	CHECK(bitmap[0] == 0 && bitmap[2] == 0 && bitmap[63] == 0);

	/* The fast hypercall form: connection ID low, flag number high. */
	memset(&seen, 0, sizeof(seen));
	CHECK(hypercall(0, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST,
			(3ull << HV_SIGNAL_EVENT_FLAG_SHIFT) | 77, &status) == HV_STATUS_SUCCESS);
	CHECK(seen.nr_signals == 1 && seen.signals[0] == 77);
	CHECK(hypercall(0, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST, 0, &status) ==
	      HV_STATUS_INVALID_CONNECTION_ID);
	CHECK(hypercall(0, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST, 1u << 24, &status) ==
	      HV_STATUS_INVALID_CONNECTION_ID);
	*(uint64_t *)(mem.base + MSG_PFN * GUEST_PAGE_SIZE) = 12;
	CHECK(hypercall(0, HVCALL_SIGNAL_EVENT, MSG_PFN * GUEST_PAGE_SIZE, &status) ==
	      HV_STATUS_SUCCESS);
	CHECK(seen.nr_signals == 2 && seen.signals[1] == 12);
}

static void test_hv_mailbox_protocol(void)
{
	struct hvsim_mailbox *mb = mailbox(0);
	uint64_t v;

	/* No outstanding request: the doorbell changes nothing. */
	mb->out[0] = 0x1234;
	hypervisor_doorbell(hv, HVSIM_VECTOR_TRAP);
	CHECK(mb->out[0] == 0x1234);
	/* Requests on both VPs in one doorbell are both served. */
	mailbox(0)->op = HVSIM_OP_RDMSR;
	mailbox(0)->in[0] = HV_MSR_VP_INDEX;
	mailbox(1)->op = HVSIM_OP_RDMSR;
	mailbox(1)->in[0] = HV_MSR_VP_INDEX;
	__atomic_store_n(&mailbox(0)->request_seq, ++seqs[0], __ATOMIC_RELEASE);
	__atomic_store_n(&mailbox(1)->request_seq, ++seqs[1], __ATOMIC_RELEASE);
	hypervisor_doorbell(hv, HVSIM_VECTOR_TRAP);
	CHECK(mailbox(0)->response_seq == seqs[0] && mailbox(0)->out[0] == 0);
	CHECK(mailbox(1)->response_seq == seqs[1] && mailbox(1)->out[0] == 1);
	/* An MSR number above 32 bits is no MSR. */
	CHECK(rdmsr(0, 0x100000000ull | HV_MSR_VP_INDEX, &v) == HVSIM_STATUS_GP_FAULT);
}

static void test_hv_crash(void)
{
	const char *text = "Kernel panic - not syncing: test\x1b[2J";
	uint64_t gpa = 50 * GUEST_PAGE_SIZE;

	CHECK(!hypervisor_guest_crashed(hv));
	strcpy((char *)mem.base + gpa, text);
	CHECK(wrmsr(0, HV_MSR_CRASH_P0, 0x1111) == HVSIM_STATUS_OK);
	CHECK(wrmsr(0, HV_MSR_CRASH_P0 + 3, gpa) == HVSIM_STATUS_OK);
	CHECK(wrmsr(0, HV_MSR_CRASH_P0 + 4, strlen(text)) == HVSIM_STATUS_OK);
	CHECK(wrmsr(0, HV_MSR_CRASH_CTL, HV_MSR_CRASH_CTL_NOTIFY | HV_MSR_CRASH_CTL_MESSAGE) ==
	      HVSIM_STATUS_OK);
	CHECK(hypervisor_guest_crashed(hv));
	/* A message outside RAM is reported as such, not read. */
	CHECK(wrmsr(0, HV_MSR_CRASH_P0 + 3, UINT64_MAX - 8) == HVSIM_STATUS_OK);
	CHECK(wrmsr(0, HV_MSR_CRASH_P0 + 4, 100) == HVSIM_STATUS_OK);
	CHECK(wrmsr(0, HV_MSR_CRASH_CTL, HV_MSR_CRASH_CTL_NOTIFY | HV_MSR_CRASH_CTL_MESSAGE) ==
	      HVSIM_STATUS_OK);
}

static void setup_hypervisor(void)
{
	struct hypervisor_config cfg;

	memset(mem.base, 0, mem.size);
	shm = aligned_alloc(4096, HVSIM_SHM_SIZE);
	loop = loop_new();
	if (!shm || !loop)
		return;
	memset(shm, 0, HVSIM_SHM_SIZE);
	cfg = (struct hypervisor_config) {
		.loop = loop,
		.mem = &mem,
		.shm = shm,
		.nr_vps = NR_VPS,
		.vp_irq_fds = irq_fds,
	};
	hv = hypervisor_new(&cfg);
}

int main(void)
{
	uint32_t vp;
	int err;

	snprintf(ram_path, sizeof(ram_path), "/tmp/hvsim-test-synic-%d", (int)getpid());
	unlink(ram_path);
	err = guest_mem_create(&mem, ram_path, RAM_PAGES * GUEST_PAGE_SIZE);
	if (err) {
		printf("FAIL setup: guest_mem_create: %s\n", strerror(-err));
		return 1;
	}
	for (vp = 0; vp < NR_VPS; vp++)
		irq_fds[vp] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	RUN_TEST(test_post_into_empty_slot);
	RUN_TEST(test_pending_flag_and_eom);
	RUN_TEST(test_queue_limit);
	RUN_TEST(test_masked_sint_queues);
	RUN_TEST(test_event_flag_interrupts_once);
	RUN_TEST(test_event_flag_masked);
	RUN_TEST(test_bad_arguments);
	RUN_TEST(test_msrs);
	RUN_TEST(test_concurrent_posts);
	synic_free(synic);
	synic = NULL;

	setup_hypervisor();
	if (!hv) {
		printf("FAIL setup: hypervisor_new\n");
		return 1;
	}
	RUN_TEST(test_hv_cpuid);
	RUN_TEST(test_hv_msrs);
	RUN_TEST(test_hv_hypercall_enable);
	RUN_TEST(test_hv_post_message);
	RUN_TEST(test_hv_signals);
	RUN_TEST(test_hv_mailbox_protocol);
	RUN_TEST(test_hv_crash);
	hypervisor_free(hv);
	loop_free(loop);
	free(shm);

	for (vp = 0; vp < NR_VPS; vp++)
		close(irq_fds[vp]);
	guest_mem_close(&mem);
	return check_finish();
}
