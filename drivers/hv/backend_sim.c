// SPDX-License-Identifier: GPL-2.0
/*
 * The simulator back end: host-sim's trap ABI (<viridian/wire/sim.h>) over
 * QEMU's ivshmem-doorbell PCI device.
 *
 * Every VP owns one mailbox in the shared memory. A trap fills the mailbox
 * of the CPU it runs on, publishes a new request sequence number, rings the
 * host peer and spins until host-sim echoes the number in response_seq. The
 * CPU stays put and interrupts stay off for the whole exchange, so nothing
 * else on this CPU (an interrupt handler included) can touch the mailbox.
 *
 * host-sim raises SynIC interrupts for VP n on MSI-X vector n, which is
 * bound to CPU n so that the handler runs on the VP that was interrupted.
 *
 * Nothing read from the shared memory is trusted: the layout is copied once
 * and checked against the BAR, and only that copy is used afterwards.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>
#include <viridian/hv.h>
#include <viridian/wire/sim.h>

#include "internal.h"

#define HVSIM_TRAP_TIMEOUT_NS	(5ull * NSEC_PER_SEC)
#define HVSIM_REGS_MIN_LEN	(HVSIM_REG_DOORBELL + sizeof(u32))
#define HVSIM_IRQ_NAME_LEN	sizeof("viridian_hv-vp4294967295")

/*
 * One VP's MSI-X vector. x86 without interrupt remapping moves an MSI to
 * its new CPU only when it next fires, on the old CPU; that interrupt is
 * passed on to the VP's CPU, whose SynIC pages hold what host-sim posted.
 */
struct hvsim_vp_irq {
	unsigned int cpu;
	call_single_data_t forward;
};

struct hvsim {
	struct viridian_hv_backend be;
	struct pci_dev *pdev;
	void __iomem *regs;
	void *shm;

	/* The validated copy of the shared-memory header. */
	u32 host_peer_id;
	u32 nr_vps;
	u32 mailbox_offset;
	u32 mailbox_stride;
	u32 signal_bits;
	unsigned long *signal_bitmap;

	/* Last request number sent on each mailbox; each CPU owns its slot. */
	u32 last_seq[HVSIM_MAX_VPS];

	void *hypercall_page;
	cpumask_var_t irqs_requested;
	struct hvsim_vp_irq vp_irqs[HVSIM_MAX_VPS];
	char irq_names[HVSIM_MAX_VPS][HVSIM_IRQ_NAME_LEN];
};

static struct hvsim *to_hvsim(struct viridian_hv_backend *be)
{
	return container_of(be, struct hvsim, be);
}

static struct hvsim_mailbox *hvsim_mailbox(struct hvsim *sim, unsigned int vp)
{
	return sim->shm + sim->mailbox_offset + (size_t)vp * sim->mailbox_stride;
}

static void hvsim_ring(struct hvsim *sim, unsigned int vector)
{
	/* Ordered after every earlier store to memory, as writel() is. */
	iowrite32(HVSIM_DOORBELL(sim->host_peer_id, vector),
		  sim->regs + HVSIM_REG_DOORBELL);
}

static const char *hvsim_op_name(u32 op)
{
	switch (op) {
	case HVSIM_OP_CPUID:
		return "cpuid";
	case HVSIM_OP_RDMSR:
		return "rdmsr";
	case HVSIM_OP_WRMSR:
		return "wrmsr";
	case HVSIM_OP_HYPERCALL:
		return "hypercall";
	default:
		return "?";
	}
}

/*
 * One synchronous trap on this CPU's mailbox. Returns 0, -ETIMEDOUT when
 * host-sim did not answer, -EIO for #GP, -EOPNOTSUPP for #UD, -EINVAL when
 * host-sim did not know the op.
 */
static int hvsim_trap(struct hvsim *sim, u32 op, const u64 *in, unsigned int nr_in,
		      u64 *out, unsigned int nr_out)
{
	struct hvsim_mailbox *mbox;
	unsigned long flags;
	unsigned int cpu, i;
	u64 deadline;
	u32 seq, status = HVSIM_STATUS_OK;
	int ret = 0;

	preempt_disable();
	local_irq_save(flags);
	cpu = smp_processor_id();
	/* The probe refused CPU numbers past nr_vps; never index past them. */
	if (unlikely(cpu >= sim->nr_vps)) {
		ret = -EIO;
		goto out;
	}
	mbox = hvsim_mailbox(sim, cpu);

	WRITE_ONCE(mbox->op, op);
	for (i = 0; i < ARRAY_SIZE(mbox->in); i++)
		WRITE_ONCE(mbox->in[i], i < nr_in ? in[i] : 0);
	seq = sim->last_seq[cpu] + 1;
	sim->last_seq[cpu] = seq;
	/* host-sim reads op and in[] once it sees the new request_seq. */
	virt_wmb();
	WRITE_ONCE(mbox->request_seq, seq);
	hvsim_ring(sim, HVSIM_VECTOR_TRAP);

	deadline = ktime_get_mono_fast_ns() + HVSIM_TRAP_TIMEOUT_NS;
	while (READ_ONCE(mbox->response_seq) != seq) {
		if (ktime_get_mono_fast_ns() > deadline) {
			ret = -ETIMEDOUT;
			goto out;
		}
		cpu_relax();
	}
	/* host-sim wrote status and out[] before response_seq. */
	virt_rmb();
	status = READ_ONCE(mbox->status);
	for (i = 0; i < min_t(unsigned int, nr_out, ARRAY_SIZE(mbox->out)); i++)
		out[i] = READ_ONCE(mbox->out[i]);

	switch (status) {
	case HVSIM_STATUS_OK:
		break;
	case HVSIM_STATUS_GP_FAULT:
		ret = -EIO;
		break;
	case HVSIM_STATUS_UD_FAULT:
		ret = -EOPNOTSUPP;
		break;
	default:
		ret = -EINVAL;
		break;
	}
out:
	local_irq_restore(flags);
	preempt_enable();

	if (ret == -ETIMEDOUT)
		dev_err_ratelimited(&sim->pdev->dev,
				    "host-sim did not answer %s %#llx in time\n",
				    hvsim_op_name(op), nr_in ? in[0] : 0);
	else if (ret == -EINVAL)
		dev_err_ratelimited(&sim->pdev->dev,
				    "host-sim rejected %s with status %u\n",
				    hvsim_op_name(op), status);
	return ret;
}

static int hvsim_cpuid(struct viridian_hv_backend *be, u32 leaf, u32 subleaf,
		       u32 regs[4])
{
	u64 in[2] = { leaf, subleaf };
	u64 out[4];
	unsigned int i;
	int ret;

	ret = hvsim_trap(to_hvsim(be), HVSIM_OP_CPUID, in, ARRAY_SIZE(in), out,
			 ARRAY_SIZE(out));
	for (i = 0; i < 4; i++)
		regs[i] = ret ? 0 : lower_32_bits(out[i]);
	return ret;
}

static int hvsim_rdmsr(struct viridian_hv_backend *be, u32 msr, u64 *value)
{
	u64 in[1] = { msr };
	int ret;

	ret = hvsim_trap(to_hvsim(be), HVSIM_OP_RDMSR, in, ARRAY_SIZE(in), value, 1);
	if (ret) {
		*value = 0;
		return -EIO;
	}
	return 0;
}

static int hvsim_wrmsr(struct viridian_hv_backend *be, u32 msr, u64 value)
{
	u64 in[2] = { msr, value };

	return hvsim_trap(to_hvsim(be), HVSIM_OP_WRMSR, in, ARRAY_SIZE(in), NULL, 0) ?
	       -EIO : 0;
}

static u64 hvsim_hypercall(struct viridian_hv_backend *be, u64 control,
			   void *input, void *output)
{
	/* host-sim reads and writes guest RAM by guest-physical address. */
	u64 in[3] = {
		control,
		input ? virt_to_phys(input) : 0,
		output ? virt_to_phys(output) : 0,
	};
	u64 result;
	int ret;

	ret = hvsim_trap(to_hvsim(be), HVSIM_OP_HYPERCALL, in, ARRAY_SIZE(in),
			 &result, 1);
	if (ret == -ETIMEDOUT)
		return HV_STATUS_TIME_OUT;
	if (ret)
		return HV_STATUS_ACCESS_DENIED;
	return result;
}

static u16 hvsim_signal_event(struct viridian_hv_backend *be, u32 connection_id,
			      u16 flag_number)
{
	struct hvsim *sim = to_hvsim(be);

	/* The bitmap has one bit per connection; the flag is not carried. */
	if (connection_id >= sim->signal_bits)
		return HV_STATUS_INVALID_CONNECTION_ID;
	set_bit(connection_id, sim->signal_bitmap);
	/* host-sim must find the bit once the doorbell wakes it. */
	smp_mb__after_atomic();
	hvsim_ring(sim, HVSIM_VECTOR_SIGNAL);
	return HV_STATUS_SUCCESS;
}

/* CPU n takes VP n's interrupts. */
static int hvsim_cpu_online(struct viridian_hv_backend *be, unsigned int cpu)
{
	struct hvsim *sim = to_hvsim(be);
	int irq, ret;

	irq = pci_irq_vector(sim->pdev, cpu);
	if (irq < 0)
		return irq;
	ret = irq_set_affinity(irq, cpumask_of(cpu));
	if (ret)
		dev_err(&sim->pdev->dev, "cannot bind MSI-X vector %u to CPU%u (%d)\n",
			cpu, cpu, ret);
	return ret;
}

static const struct viridian_hv_ops hvsim_ops = {
	.cpuid = hvsim_cpuid,
	.read_msr = hvsim_rdmsr,
	.write_msr = hvsim_wrmsr,
	.hypercall = hvsim_hypercall,
	.signal_event = hvsim_signal_event,
	.cpu_online = hvsim_cpu_online,
};

static void hvsim_forwarded_interrupt(void *info)
{
	viridian_synic_isr();
}

static irqreturn_t hvsim_interrupt(int irq, void *data)
{
	struct hvsim_vp_irq *vi = data;

	if (unlikely(vi->cpu != smp_processor_id())) {
		/*
		 * -EBUSY: a forward is queued and will see this one too.
		 * -ENXIO: the CPU is offline, its SynIC off; host-sim keeps
		 * the messages for it.
		 */
		smp_call_function_single_async(vi->cpu, &vi->forward);
		return IRQ_HANDLED;
	}
	viridian_synic_isr();
	return IRQ_HANDLED;
}

static void hvsim_nop(void *info)
{
}

static bool hvsim_ranges_overlap(u64 a_start, u64 a_end, u64 b_start, u64 b_end)
{
	return a_start < b_end && b_start < a_end;
}

/* Checks host-sim's layout against the BAR and keeps a private copy of it. */
static int hvsim_adopt_header(struct hvsim *sim, const struct hvsim_shm_header *hdr,
			      u64 shm_len)
{
	struct device *dev = &sim->pdev->dev;
	u64 mailbox_end, signal_end;

	if (hdr->abi_version != HVSIM_ABI_VERSION) {
		dev_err(dev, "host-sim speaks ABI %u, this driver ABI %u\n",
			hdr->abi_version, HVSIM_ABI_VERSION);
		return -EPROTO;
	}
	if (hdr->host_peer_id > 0xffff || hdr->nr_vps == 0 ||
	    hdr->nr_vps > HVSIM_MAX_VPS) {
		dev_err(dev, "bad shared-memory header: host peer %u, %u VPs\n",
			hdr->host_peer_id, hdr->nr_vps);
		return -EINVAL;
	}
	mailbox_end = hdr->mailbox_offset + (u64)hdr->nr_vps * hdr->mailbox_stride;
	signal_end = hdr->signal_offset +
		     DIV_ROUND_UP((u64)hdr->signal_bits, BITS_PER_LONG) * sizeof(long);
	if (hdr->mailbox_stride < sizeof(struct hvsim_mailbox) ||
	    !IS_ALIGNED(hdr->mailbox_stride, sizeof(u64)) ||
	    !IS_ALIGNED(hdr->mailbox_offset, sizeof(u64)) ||
	    hdr->mailbox_offset < sizeof(*hdr) || mailbox_end > shm_len ||
	    hdr->signal_bits == 0 ||
	    !IS_ALIGNED(hdr->signal_offset, sizeof(long)) ||
	    hdr->signal_offset < sizeof(*hdr) || signal_end > shm_len ||
	    hvsim_ranges_overlap(hdr->mailbox_offset, mailbox_end,
				 hdr->signal_offset, signal_end)) {
		dev_err(dev, "bad shared-memory layout: mailboxes %#x+%u*%u, signals %#x+%u bits, %llu bytes\n",
			hdr->mailbox_offset, hdr->nr_vps, hdr->mailbox_stride,
			hdr->signal_offset, hdr->signal_bits, shm_len);
		return -EINVAL;
	}

	sim->host_peer_id = hdr->host_peer_id;
	sim->nr_vps = hdr->nr_vps;
	sim->mailbox_offset = hdr->mailbox_offset;
	sim->mailbox_stride = hdr->mailbox_stride;
	sim->signal_bits = hdr->signal_bits;
	sim->signal_bitmap = sim->shm + hdr->signal_offset;
	return 0;
}

static void hvsim_free_irqs(struct hvsim *sim)
{
	unsigned int cpu;

	for_each_cpu(cpu, sim->irqs_requested)
		free_irq(pci_irq_vector(sim->pdev, cpu), &sim->vp_irqs[cpu]);
	/*
	 * A forward may still be queued at its CPU. A CPU runs the waited-for
	 * calls of a batch before the others, so only a second call, taken
	 * in the next batch, proves the forward done with sim's memory.
	 */
	for_each_cpu(cpu, sim->irqs_requested) {
		/* An offline CPU flushed its queue on the way down. */
		smp_call_function_single(cpu, hvsim_nop, NULL, 1);
		smp_call_function_single(cpu, hvsim_nop, NULL, 1);
	}
	cpumask_clear(sim->irqs_requested);
}

/* Vectors of VPs with no possible CPU stay unrequested, hence masked. */
static int hvsim_request_irqs(struct hvsim *sim)
{
	unsigned int cpu;
	int irq, ret;

	for_each_possible_cpu(cpu) {
		irq = pci_irq_vector(sim->pdev, cpu);
		if (irq < 0) {
			ret = irq;
			goto fail;
		}
		snprintf(sim->irq_names[cpu], HVSIM_IRQ_NAME_LEN, "viridian_hv-vp%u", cpu);
		sim->vp_irqs[cpu].cpu = cpu;
		INIT_CSD(&sim->vp_irqs[cpu].forward, hvsim_forwarded_interrupt, NULL);
		ret = request_irq(irq, hvsim_interrupt, IRQF_NO_THREAD | IRQF_NOBALANCING,
				  sim->irq_names[cpu], &sim->vp_irqs[cpu]);
		if (ret)
			goto fail;
		cpumask_set_cpu(cpu, sim->irqs_requested);
	}
	return 0;
fail:
	dev_err(&sim->pdev->dev, "cannot request the interrupt of VP %u (%d)\n", cpu, ret);
	hvsim_free_irqs(sim);
	return ret;
}

/*
 * The TLFS wants a guest OS ID before the hypercall page, and host-sim
 * raises #UD for hypercalls until the page is enabled. host-sim never
 * executes the page, but it is a real page all the same.
 */
static int hvsim_enable_hypercalls(struct hvsim *sim)
{
	u64 value;
	int ret;

	sim->hypercall_page = (void *)get_zeroed_page(GFP_KERNEL);
	if (!sim->hypercall_page)
		return -ENOMEM;
	ret = hvsim_wrmsr(&sim->be, HV_MSR_GUEST_OS_ID, viridian_hv_guest_os_id());
	if (!ret)
		ret = hvsim_rdmsr(&sim->be, HV_MSR_HYPERCALL, &value);
	if (!ret) {
		value &= ~(HV_MSR_PAGE_GPA_MASK | HV_MSR_HYPERCALL_ENABLE);
		value |= virt_to_phys(sim->hypercall_page) | HV_MSR_HYPERCALL_ENABLE;
		ret = hvsim_wrmsr(&sim->be, HV_MSR_HYPERCALL, value);
	}
	if (!ret) {
		ret = hvsim_rdmsr(&sim->be, HV_MSR_HYPERCALL, &value);
		if (!ret && !(value & HV_MSR_HYPERCALL_ENABLE))
			ret = -EIO;
	}
	if (ret) {
		dev_err(&sim->pdev->dev, "cannot enable hypercalls (%d)\n", ret);
		hvsim_wrmsr(&sim->be, HV_MSR_GUEST_OS_ID, 0);
		free_page((unsigned long)sim->hypercall_page);
		sim->hypercall_page = NULL;
		return ret;
	}
	return 0;
}

static void hvsim_disable_hypercalls(struct hvsim *sim)
{
	u64 value;

	if (!hvsim_rdmsr(&sim->be, HV_MSR_HYPERCALL, &value))
		hvsim_wrmsr(&sim->be, HV_MSR_HYPERCALL,
			    value & ~(HV_MSR_PAGE_GPA_MASK | HV_MSR_HYPERCALL_ENABLE));
	/* A zero ID tells the hypervisor no OS is using the interface now. */
	hvsim_wrmsr(&sim->be, HV_MSR_GUEST_OS_ID, 0);
	free_page((unsigned long)sim->hypercall_page);
	sim->hypercall_page = NULL;
}

static int hvsim_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct hvsim_shm_header hdr;
	resource_size_t shm_len;
	struct hvsim *sim;
	unsigned int vp;
	int ret;

	sim = kzalloc(sizeof(*sim), GFP_KERNEL);
	if (!sim)
		return -ENOMEM;
	if (!zalloc_cpumask_var(&sim->irqs_requested, GFP_KERNEL)) {
		ret = -ENOMEM;
		goto err_free;
	}
	sim->pdev = pdev;
	sim->be.name = "hvsim";
	sim->be.ops = &hvsim_ops;
	sim->be.sint_vector = HYPERVISOR_CALLBACK_VECTOR;
	sim->be.sint_auto_eoi = true;
	sim->be.owns_guest_os_id = true;

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free_mask;
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable;

	/* An ivshmem device without host-sim's header is somebody else's. */
	shm_len = pci_resource_len(pdev, HVSIM_BAR_SHM);
	if (!(pci_resource_flags(pdev, HVSIM_BAR_SHM) & IORESOURCE_MEM) ||
	    shm_len < HVSIM_SHM_SIZE ||
	    pci_resource_len(pdev, HVSIM_BAR_REGS) < HVSIM_REGS_MIN_LEN) {
		ret = -ENODEV;
		goto err_release;
	}
	sim->regs = pci_iomap(pdev, HVSIM_BAR_REGS, 0);
	if (!sim->regs) {
		ret = -ENOMEM;
		goto err_release;
	}
	/* Plain shared RAM on the other side: map it cacheable. */
	sim->shm = memremap(pci_resource_start(pdev, HVSIM_BAR_SHM), shm_len,
			    MEMREMAP_WB);
	if (!sim->shm) {
		ret = -ENOMEM;
		goto err_unmap_regs;
	}
	memcpy(&hdr, sim->shm, sizeof(hdr));
	BUILD_BUG_ON(sizeof(HVSIM_MAGIC) != sizeof(hdr.magic));
	if (memcmp(hdr.magic, HVSIM_MAGIC, sizeof(hdr.magic))) {
		dev_dbg(dev, "ivshmem device without the host-sim header: not ours\n");
		ret = -ENODEV;
		goto err_unmap_shm;
	}
	ret = hvsim_adopt_header(sim, &hdr, shm_len);
	if (ret)
		goto err_unmap_shm;
	if (nr_cpu_ids > sim->nr_vps) {
		dev_err(dev, "host-sim offers %u VPs, but CPU numbers go up to %u: give the guest fewer CPUs or host-sim more VPs\n",
			sim->nr_vps, nr_cpu_ids - 1);
		ret = -EINVAL;
		goto err_unmap_shm;
	}
	sim->be.nr_vps = sim->nr_vps;
	/*
	 * Continue where the mailboxes stand (a previous load may have used
	 * them), so a new request number never equals a stale response.
	 */
	for (vp = 0; vp < sim->nr_vps; vp++)
		sim->last_seq[vp] = READ_ONCE(hvsim_mailbox(sim, vp)->response_seq);

	/* MSI-X messages are memory writes by the device: no master, no IRQs. */
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, sim->nr_vps, sim->nr_vps, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(dev, "cannot allocate %u MSI-X vectors (%d): start QEMU with vectors=%u\n",
			sim->nr_vps, ret, sim->nr_vps);
		goto err_clear_master;
	}
	ret = hvsim_request_irqs(sim);
	if (ret)
		goto err_free_vectors;
	ret = hvsim_enable_hypercalls(sim);
	if (ret)
		goto err_free_irqs;

	pci_set_drvdata(pdev, sim);
	ret = viridian_hv_bind(&sim->be);
	if (ret)
		goto err_disable_hypercalls;
	return 0;

err_disable_hypercalls:
	pci_set_drvdata(pdev, NULL);
	hvsim_disable_hypercalls(sim);
err_free_irqs:
	hvsim_free_irqs(sim);
err_free_vectors:
	pci_free_irq_vectors(pdev);
err_clear_master:
	pci_clear_master(pdev);
err_unmap_shm:
	memunmap(sim->shm);
err_unmap_regs:
	pci_iounmap(pdev, sim->regs);
err_release:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free_mask:
	free_cpumask_var(sim->irqs_requested);
err_free:
	kfree(sim);
	return ret;
}

static void hvsim_remove(struct pci_dev *pdev)
{
	struct hvsim *sim = pci_get_drvdata(pdev);

	viridian_hv_unbind(&sim->be);
	hvsim_disable_hypercalls(sim);
	hvsim_free_irqs(sim);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	memunmap(sim->shm);
	pci_iounmap(pdev, sim->regs);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	pci_set_drvdata(pdev, NULL);
	free_cpumask_var(sim->irqs_requested);
	kfree(sim);
}

static const struct pci_device_id hvsim_pci_ids[] = {
	{ PCI_DEVICE(HVSIM_PCI_VENDOR, HVSIM_PCI_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hvsim_pci_ids);

static struct pci_driver hvsim_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = hvsim_pci_ids,
	.probe = hvsim_probe,
	.remove = hvsim_remove,
	/*
	 * Clients hold on to SynIC pages: unbinding under them through sysfs
	 * would pull those away. Unloading the module needs them gone first.
	 */
	.driver.suppress_bind_attrs = true,
};

int viridian_sim_backend_init(void)
{
	return pci_register_driver(&hvsim_pci_driver);
}

void viridian_sim_backend_exit(void)
{
	pci_unregister_driver(&hvsim_pci_driver);
}
