// SPDX-License-Identifier: GPL-2.0
/* kunit-sources: drivers/hv/synic.c */
/*
 * KUnit tests for the SynIC code common to both back ends, driven through a
 * fake back end: an array of synthetic MSRs, a log of the writes, and a
 * write that can be made to fail. What the real hypervisor relies on is
 * checked here: the order of SIMP, SIEFP, SINT and SCONTROL, reserved bits
 * kept, masking that touches only the mask bit, EOM only when the
 * hypervisor has more, and a start that fails half-way undoing itself.
 *
 * UML runs one CPU, so the CPU-hotplug callbacks run for CPU 0 only.
 */
#include <kunit/test.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <viridian/hv.h>

#include "internal.h"

#define FAKE_MSR_BASE		0x40000000u
#define FAKE_MSR_COUNT		0x100u
#define FAKE_LOG_MAX		64
#define FAKE_VECTOR		0xf3
#define FAKE_VP_INDEX		7
/* A reserved bit the TLFS asks software to preserve. */
#define FAKE_SINT_RESERVED	BIT_ULL(40)
#define FAKE_GUEST_OS_ID	0x8100000000000000ull

struct fake_backend {
	struct viridian_hv_backend be;
	u64 msr[FAKE_MSR_COUNT];
	u32 log[FAKE_LOG_MAX];		/* MSR indices written, in order */
	unsigned int nr_log;
	u32 fail_write;			/* this MSR's writes fail; 0: none */
};

static struct fake_backend *to_fake(struct viridian_hv_backend *be)
{
	return container_of(be, struct fake_backend, be);
}

static bool fake_index(u32 msr, unsigned int *i)
{
	if (msr < FAKE_MSR_BASE || msr >= FAKE_MSR_BASE + FAKE_MSR_COUNT)
		return false;
	*i = msr - FAKE_MSR_BASE;
	return true;
}

static int fake_cpuid(struct viridian_hv_backend *be, u32 leaf, u32 subleaf, u32 regs[4])
{
	memset(regs, 0, 4 * sizeof(u32));
	return 0;
}

static int fake_read_msr(struct viridian_hv_backend *be, u32 msr, u64 *value)
{
	unsigned int i;

	if (!fake_index(msr, &i))
		return -EIO;
	*value = to_fake(be)->msr[i];
	return 0;
}

static int fake_write_msr(struct viridian_hv_backend *be, u32 msr, u64 value)
{
	struct fake_backend *fake = to_fake(be);
	unsigned int i;

	if (!fake_index(msr, &i) || msr == fake->fail_write)
		return -EIO;
	if (fake->nr_log < FAKE_LOG_MAX)
		fake->log[fake->nr_log++] = msr;
	fake->msr[i] = value;
	return 0;
}

static u64 fake_hypercall(struct viridian_hv_backend *be, u64 control, void *in, void *out)
{
	return 0;
}

static u16 fake_signal_event(struct viridian_hv_backend *be, u32 connection_id, u16 flag)
{
	return 0;
}

static const struct viridian_hv_ops fake_ops = {
	.cpuid = fake_cpuid,
	.read_msr = fake_read_msr,
	.write_msr = fake_write_msr,
	.hypercall = fake_hypercall,
	.signal_event = fake_signal_event,
};

/* core.c's, which these tests do not build in. */
u64 viridian_hv_guest_os_id(void)
{
	return FAKE_GUEST_OS_ID;
}

static struct fake_backend *fake_new(struct kunit *test)
{
	struct fake_backend *fake = kunit_kzalloc(test, sizeof(*fake), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, fake);
	fake->be.name = "fake";
	fake->be.ops = &fake_ops;
	fake->be.nr_vps = 1;
	fake->be.sint_vector = FAKE_VECTOR;
	fake->be.sint_auto_eoi = true;
	fake->be.owns_guest_os_id = true;
	fake->msr[HV_MSR_VP_INDEX - FAKE_MSR_BASE] = FAKE_VP_INDEX;
	return fake;
}

static u64 fake_msr(struct fake_backend *fake, u32 msr)
{
	return fake->msr[msr - FAKE_MSR_BASE];
}

/* Position of the first write of msr in the log, or -1. */
static int fake_first_write(struct fake_backend *fake, u32 msr)
{
	unsigned int i;

	for (i = 0; i < fake->nr_log; i++)
		if (fake->log[i] == msr)
			return i;
	return -1;
}

static void synic_test_start_programs_pages(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);
	struct hv_message_page *messages;
	struct hv_synic_event_flags_page *events;
	int simp, siefp, scontrol;

	KUNIT_ASSERT_EQ(test, viridian_synic_start(&fake->be), 0);
	messages = viridian_synic_message_page_of(0);
	events = viridian_synic_event_page_of(0);
	KUNIT_ASSERT_NOT_NULL(test, messages);
	KUNIT_ASSERT_NOT_NULL(test, events);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIMP),
			(u64)virt_to_phys(messages) | HV_MSR_SIMP_ENABLE);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIEFP),
			(u64)virt_to_phys(events) | HV_MSR_SIEFP_ENABLE);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SCONTROL) & HV_MSR_SCONTROL_ENABLE,
			HV_MSR_SCONTROL_ENABLE);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_GUEST_OS_ID), FAKE_GUEST_OS_ID);
	KUNIT_EXPECT_EQ(test, viridian_hv_vp_index(0), (u32)FAKE_VP_INDEX);

	/* The pages are in place before the SynIC is switched on. */
	simp = fake_first_write(fake, HV_MSR_SIMP);
	siefp = fake_first_write(fake, HV_MSR_SIEFP);
	scontrol = fake_first_write(fake, HV_MSR_SCONTROL);
	KUNIT_EXPECT_GE(test, simp, 0);
	KUNIT_EXPECT_GE(test, siefp, 0);
	KUNIT_EXPECT_GT(test, scontrol, simp);
	KUNIT_EXPECT_GT(test, scontrol, siefp);

	viridian_synic_stop();
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIMP) & HV_MSR_SIMP_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIEFP) & HV_MSR_SIEFP_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SCONTROL) & HV_MSR_SCONTROL_ENABLE, 0ull);
	KUNIT_EXPECT_NULL(test, viridian_synic_message_page_of(0));
	KUNIT_EXPECT_EQ(test, viridian_hv_vp_index(0), U32_MAX);
}

static void synic_test_sint_unmask_and_mask(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);
	u32 sint2 = HV_MSR_SINT0 + 2;
	u64 value;

	fake->msr[sint2 - FAKE_MSR_BASE] = HV_SINT_MASKED | FAKE_SINT_RESERVED;
	KUNIT_ASSERT_EQ(test, viridian_synic_start(&fake->be), 0);

	KUNIT_ASSERT_EQ(test, viridian_synic_enable_sint(2), 0);
	value = fake_msr(fake, sint2);
	KUNIT_EXPECT_EQ(test, value & HV_SINT_VECTOR_MASK, (u64)FAKE_VECTOR);
	KUNIT_EXPECT_EQ(test, value & HV_SINT_MASKED, 0ull);
	KUNIT_EXPECT_EQ(test, value & HV_SINT_AUTO_EOI, HV_SINT_AUTO_EOI);
	KUNIT_EXPECT_EQ(test, value & FAKE_SINT_RESERVED, FAKE_SINT_RESERVED);

	/* Masking sets the mask bit and leaves the vector alone, as Linux does. */
	viridian_synic_disable_sint(2);
	value = fake_msr(fake, sint2);
	KUNIT_EXPECT_EQ(test, value & HV_SINT_MASKED, HV_SINT_MASKED);
	KUNIT_EXPECT_EQ(test, value & HV_SINT_VECTOR_MASK, (u64)FAKE_VECTOR);
	KUNIT_EXPECT_EQ(test, value & FAKE_SINT_RESERVED, FAKE_SINT_RESERVED);

	KUNIT_EXPECT_EQ(test, viridian_synic_enable_sint(HV_SYNIC_SINT_COUNT), -EINVAL);
	viridian_synic_stop();
	KUNIT_EXPECT_EQ(test, viridian_synic_enable_sint(2), -ENODEV);
}

static void synic_test_no_auto_eoi(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);

	fake->be.sint_auto_eoi = false;
	KUNIT_ASSERT_EQ(test, viridian_synic_start(&fake->be), 0);
	KUNIT_ASSERT_EQ(test, viridian_synic_enable_sint(2), 0);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SINT0 + 2) & HV_SINT_AUTO_EOI, 0ull);
	viridian_synic_stop();
}

/* A start that fails half-way leaves the SynIC off and can be retried. */
static void synic_test_start_failure_undone(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);

	fake->fail_write = HV_MSR_SCONTROL;
	KUNIT_EXPECT_LT(test, viridian_synic_start(&fake->be), 0);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIMP) & HV_MSR_SIMP_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIEFP) & HV_MSR_SIEFP_ENABLE, 0ull);
	KUNIT_EXPECT_NULL(test, viridian_synic_message_page_of(0));
	KUNIT_EXPECT_EQ(test, viridian_synic_enable_sint(2), -ENODEV);

	fake->fail_write = 0;
	KUNIT_ASSERT_EQ(test, viridian_synic_start(&fake->be), 0);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIMP) & HV_MSR_SIMP_ENABLE,
			HV_MSR_SIMP_ENABLE);
	viridian_synic_stop();
}

/* A VP index the hypervisor cannot have is refused. */
static void synic_test_bad_vp_index(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);

	fake->msr[HV_MSR_VP_INDEX - FAKE_MSR_BASE] = U32_MAX;
	KUNIT_EXPECT_LT(test, viridian_synic_start(&fake->be), 0);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SCONTROL) & HV_MSR_SCONTROL_ENABLE, 0ull);
}

static void synic_test_eom_only_when_pending(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);
	struct hv_message *slot;
	int eom;

	KUNIT_ASSERT_EQ(test, viridian_synic_start(&fake->be), 0);
	slot = &viridian_synic_message_page_of(0)->sint_message[2];

	fake->nr_log = 0;
	slot->header.message_type = HVMSG_VMBUS;
	slot->header.message_flags = 0;
	viridian_synic_message_done(slot);
	KUNIT_EXPECT_EQ(test, slot->header.message_type, (u32)HVMSG_NONE);
	KUNIT_EXPECT_EQ(test, fake_first_write(fake, HV_MSR_EOM), -1);

	slot->header.message_type = HVMSG_VMBUS;
	slot->header.message_flags = HV_MESSAGE_FLAG_PENDING;
	viridian_synic_message_done(slot);
	KUNIT_EXPECT_EQ(test, slot->header.message_type, (u32)HVMSG_NONE);
	eom = fake_first_write(fake, HV_MSR_EOM);
	KUNIT_EXPECT_GE(test, eom, 0);
	viridian_synic_stop();
}

/* kexec and crash: the SynIC goes off without stop's sleeping clean-up. */
static void synic_test_shutdown_turns_off(struct kunit *test)
{
	struct fake_backend *fake = fake_new(test);

	KUNIT_ASSERT_EQ(test, viridian_synic_start(&fake->be), 0);
	KUNIT_ASSERT_EQ(test, viridian_synic_enable_sint(2), 0);
	viridian_synic_shutdown_this_cpu();
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SCONTROL) & HV_MSR_SCONTROL_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIMP) & HV_MSR_SIMP_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SIEFP) & HV_MSR_SIEFP_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SINT0 + 2) & HV_SINT_MASKED, HV_SINT_MASKED);

	KUNIT_ASSERT_EQ(test, viridian_synic_enable_sint(2), 0);
	viridian_synic_shutdown_all();
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SCONTROL) & HV_MSR_SCONTROL_ENABLE, 0ull);
	KUNIT_EXPECT_EQ(test, fake_msr(fake, HV_MSR_SINT0 + 2) & HV_SINT_MASKED, HV_SINT_MASKED);
	/* Stop still cleans up even with something left in a page. */
	viridian_synic_event_page_of(0)->sintevent_flags[2].flags[0] = 1;
	viridian_synic_stop();
	KUNIT_EXPECT_NULL(test, viridian_synic_event_page_of(0));
}

static void synic_test_one_handler(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, viridian_synic_register_handler(NULL), -EINVAL);
	KUNIT_ASSERT_EQ(test, viridian_synic_register_handler(viridian_synic_isr), 0);
	KUNIT_EXPECT_EQ(test, viridian_synic_register_handler(viridian_synic_isr), -EBUSY);
	viridian_synic_unregister_handler();
	KUNIT_EXPECT_EQ(test, viridian_synic_register_handler(viridian_synic_isr), 0);
	viridian_synic_unregister_handler();
}

static struct kunit_case synic_test_cases[] = {
	KUNIT_CASE(synic_test_start_programs_pages),
	KUNIT_CASE(synic_test_sint_unmask_and_mask),
	KUNIT_CASE(synic_test_no_auto_eoi),
	KUNIT_CASE(synic_test_start_failure_undone),
	KUNIT_CASE(synic_test_bad_vp_index),
	KUNIT_CASE(synic_test_eom_only_when_pending),
	KUNIT_CASE(synic_test_shutdown_turns_off),
	KUNIT_CASE(synic_test_one_handler),
	{}
};

static struct kunit_suite synic_test_suite = {
	.name = "viridian_synic",
	.test_cases = synic_test_cases,
};
kunit_test_suite(synic_test_suite);

MODULE_LICENSE("GPL");
