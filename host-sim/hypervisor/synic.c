// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "hypervisor/synic.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viridian/wire/hv.h"
#include "core/guest_mem.h"
#include "trace.h"

#define SINT_KNOWN_BITS	(HV_SINT_VECTOR_MASK | HV_SINT_MASKED | HV_SINT_AUTO_EOI | \
			 HV_SINT_POLLING)

struct queued_message {
	struct queued_message *next;
	uint32_t type;
	uint32_t len;
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
};

struct sint_queue {
	struct queued_message *head;
	struct queued_message **tail;
	unsigned int count;
};

struct synic_vp {
	uint64_t scontrol;
	uint64_t simp;
	uint64_t siefp;
	uint64_t sint[HV_SYNIC_SINT_COUNT];
	uint8_t *simp_page;	/* valid while HV_MSR_SIMP_ENABLE */
	uint8_t *siefp_page;	/* valid while HV_MSR_SIEFP_ENABLE */
	struct sint_queue queue[HV_SYNIC_SINT_COUNT];
	uint64_t delivered;
	uint64_t interrupts;
	int irq_fd;
};

struct synic {
	pthread_mutex_t lock;	/* every VP's registers and queues */
	struct guest_mem *mem;
	uint32_t nr_vps;
	struct synic_vp vp[];
};

struct synic *synic_new(struct guest_mem *mem, uint32_t nr_vps, const int *vp_irq_fds)
{
	struct synic *s;
	uint32_t v, i;

	if (!mem || nr_vps == 0 || !vp_irq_fds) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s) + nr_vps * sizeof(s->vp[0]));
	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->mem = mem;
	s->nr_vps = nr_vps;
	for (v = 0; v < nr_vps; v++) {
		s->vp[v].irq_fd = vp_irq_fds[v];
		for (i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
			s->vp[v].sint[i] = HV_SINT_MASKED;
			s->vp[v].queue[i].tail = &s->vp[v].queue[i].head;
		}
	}
	return s;
}

void synic_free(struct synic *s)
{
	uint32_t v, i;

	if (!s)
		return;
	for (v = 0; v < s->nr_vps; v++) {
		for (i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
			struct queued_message *m = s->vp[v].queue[i].head;

			while (m) {
				struct queued_message *next = m->next;

				free(m);
				m = next;
			}
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void interrupt_vp(struct synic *s, uint32_t vp)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, an interrupt is pending anyway. */
	if (write(s->vp[vp].irq_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		TRACE("synic: interrupting vp %u failed: %s", vp, strerror(errno));
}

static bool sint_unmasked(const struct synic_vp *vp, uint32_t sint)
{
	return (vp->scontrol & HV_MSR_SCONTROL_ENABLE) && !(vp->sint[sint] & HV_SINT_MASKED);
}

static bool sint_interrupts(const struct synic_vp *vp, uint32_t sint)
{
	return sint_unmasked(vp, sint) && !(vp->sint[sint] & HV_SINT_POLLING);
}

static void write_slot(uint8_t *slot, const struct queued_message *m)
{
	struct hv_message_header h = {
		.message_type = HVMSG_NONE,
		.payload_size = (uint8_t)m->len,
	};
	uint8_t *payload = slot + sizeof(h);

	/* message_type stays HVMSG_NONE until everything else is in place. */
	memcpy(slot + sizeof(h.message_type), (uint8_t *)&h + sizeof(h.message_type),
	       sizeof(h) - sizeof(h.message_type));
	memcpy(payload, m->payload, m->len);
	memset(payload + m->len, 0, HV_MESSAGE_PAYLOAD_BYTES - m->len);
	__atomic_store_n((uint32_t *)slot, m->type, __ATOMIC_RELEASE);
}

/*
 * Move queued messages of one SINT into its slot while the slot is free.
 * Returns true if a message was written (the VP needs an interrupt).
 *
 * When the slot is busy, HV_MESSAGE_FLAG_PENDING is set and the slot
 * re-read: the guest frees a slot by storing HVMSG_NONE and then reading the
 * flags (with a full barrier between), we store the flag and then read the
 * type, so one of the two sides always sees the other and no message is
 * stranded without an EOM.
 */
static bool deliver_locked(struct synic *s, uint32_t vp_index, uint32_t sint)
{
	struct synic_vp *vp = &s->vp[vp_index];
	struct sint_queue *q = &vp->queue[sint];
	uint8_t *slot;
	bool delivered = false;

	if (!q->head || !(vp->simp & HV_MSR_SIMP_ENABLE) || !sint_unmasked(vp, sint))
		return false;
	slot = vp->simp_page + sint * HV_MESSAGE_SIZE;
	while (q->head) {
		struct queued_message *m = q->head;
		uint32_t type = __atomic_load_n((uint32_t *)slot, __ATOMIC_ACQUIRE);

		if (type != HVMSG_NONE) {
			__atomic_fetch_or(slot + offsetof(struct hv_message_header, message_flags),
					  HV_MESSAGE_FLAG_PENDING, __ATOMIC_SEQ_CST);
			type = __atomic_load_n((uint32_t *)slot, __ATOMIC_SEQ_CST);
			if (type != HVMSG_NONE)
				break;
			continue;
		}
		write_slot(slot, m);
		q->head = m->next;
		if (!q->head)
			q->tail = &q->head;
		q->count--;
		vp->delivered++;
		delivered = true;
		TRACE("synic: vp %u sint %u message type %#x, %u bytes delivered",
		      vp_index, sint, m->type, m->len);
		free(m);
	}
	return delivered && !(vp->sint[sint] & HV_SINT_POLLING);
}

static bool deliver_all_locked(struct synic *s, uint32_t vp)
{
	bool irq = false;
	uint32_t i;

	for (i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		irq |= deliver_locked(s, vp, i);
	return irq;
}

int synic_post_message(struct synic *s, uint32_t vp, uint32_t sint, uint32_t message_type,
		       const void *payload, uint32_t len)
{
	struct queued_message *m;
	struct sint_queue *q;
	bool irq, enabled;

	if (vp >= s->nr_vps || sint >= HV_SYNIC_SINT_COUNT || message_type == HVMSG_NONE ||
	    len > HV_MESSAGE_PAYLOAD_BYTES || (len && !payload))
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->type = message_type;
	m->len = len;
	if (len)
		memcpy(m->payload, payload, len);

	pthread_mutex_lock(&s->lock);
	q = &s->vp[vp].queue[sint];
	if (q->count >= SYNIC_QUEUE_LIMIT) {
		pthread_mutex_unlock(&s->lock);
		free(m);
		TRACE("synic: vp %u sint %u queue full, message type %#x refused",
		      vp, sint, message_type);
		return -EAGAIN;
	}
	*q->tail = m;
	q->tail = &m->next;
	q->count++;
	enabled = (s->vp[vp].simp & HV_MSR_SIMP_ENABLE) && sint_unmasked(&s->vp[vp], sint);
	irq = deliver_locked(s, vp, sint);
	if (irq)
		s->vp[vp].interrupts++;
	pthread_mutex_unlock(&s->lock);

	if (irq)
		interrupt_vp(s, vp);
	return enabled ? 0 : -ENODEV;
}

int synic_signal_event(struct synic *s, uint32_t vp, uint32_t sint, uint32_t flag)
{
	uint64_t bit = 1ull << (flag % 64), old;
	uint64_t *word;
	bool irq;

	if (vp >= s->nr_vps || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_SYNIC_EVENT_FLAG_COUNT)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!(s->vp[vp].siefp & HV_MSR_SIEFP_ENABLE)) {
		pthread_mutex_unlock(&s->lock);
		return -ENODEV;
	}
	word = (uint64_t *)(s->vp[vp].siefp_page + sint * sizeof(struct hv_synic_event_flags)) +
	       flag / 64;
	old = __atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST);
	irq = !(old & bit) && sint_interrupts(&s->vp[vp], sint);
	if (irq)
		s->vp[vp].interrupts++;
	pthread_mutex_unlock(&s->lock);

	if (irq)
		interrupt_vp(s, vp);
	return 0;
}

static bool event_flags_pending_locked(struct synic_vp *vp, uint32_t sint)
{
	const uint64_t *words;
	size_t i;

	if (!(vp->siefp & HV_MSR_SIEFP_ENABLE))
		return false;
	words = (const uint64_t *)(vp->siefp_page + sint * sizeof(struct hv_synic_event_flags));
	for (i = 0; i < HV_SYNIC_EVENT_FLAG_COUNT / 64; i++)
		if (__atomic_load_n(&words[i], __ATOMIC_RELAXED))
			return true;
	return false;
}

int synic_rdmsr(struct synic *s, uint32_t vp_index, uint32_t msr, uint64_t *value)
{
	struct synic_vp *vp;
	int err = 0;

	if (vp_index >= s->nr_vps)
		return -EINVAL;
	vp = &s->vp[vp_index];
	pthread_mutex_lock(&s->lock);
	if (msr >= HV_MSR_SINT0 && msr <= HV_MSR_SINT15) {
		*value = vp->sint[msr - HV_MSR_SINT0];
	} else {
		switch (msr) {
		case HV_MSR_SCONTROL:
			*value = vp->scontrol;
			break;
		case HV_MSR_SVERSION:
			*value = HV_SYNIC_VERSION;
			break;
		case HV_MSR_SIEFP:
			*value = vp->siefp;
			break;
		case HV_MSR_SIMP:
			*value = vp->simp;
			break;
		case HV_MSR_EOM:
			*value = 0;	/* write-only; reads return zero */
			break;
		default:
			err = -ENOENT;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* Map an enabled SIMP/SIEFP page; NULL if the GPA is not RAM (#GP). */
static uint8_t *page_of(struct synic *s, uint64_t value)
{
	return guest_mem_ptr(s->mem, value & HV_MSR_PAGE_GPA_MASK, GUEST_PAGE_SIZE);
}

int synic_wrmsr(struct synic *s, uint32_t vp_index, uint32_t msr, uint64_t value)
{
	struct synic_vp *vp;
	bool irq = false;
	int err = 0;

	if (vp_index >= s->nr_vps)
		return -EINVAL;
	vp = &s->vp[vp_index];
	pthread_mutex_lock(&s->lock);
	if (msr >= HV_MSR_SINT0 && msr <= HV_MSR_SINT15) {
		uint32_t sint = msr - HV_MSR_SINT0;
		bool was_masked = !sint_unmasked(vp, sint);

		vp->sint[sint] = value & SINT_KNOWN_BITS;
		irq = deliver_locked(s, vp_index, sint);
		/* Flags set while masked are only noticed on an interrupt. */
		if (was_masked && sint_interrupts(vp, sint) &&
		    event_flags_pending_locked(vp, sint))
			irq = true;
	} else {
		switch (msr) {
		case HV_MSR_SCONTROL:
			vp->scontrol = value & HV_MSR_SCONTROL_ENABLE;
			irq = deliver_all_locked(s, vp_index);
			break;
		case HV_MSR_SVERSION:
			err = -EPERM;
			break;
		case HV_MSR_SIEFP:
			if (value & HV_MSR_SIEFP_ENABLE) {
				uint8_t *page = page_of(s, value);

				if (!page) {
					err = -EPERM;
					break;
				}
				vp->siefp_page = page;
			}
			vp->siefp = value & (HV_MSR_PAGE_GPA_MASK | HV_MSR_SIEFP_ENABLE);
			break;
		case HV_MSR_SIMP:
			if (value & HV_MSR_SIMP_ENABLE) {
				uint8_t *page = page_of(s, value);

				if (!page) {
					err = -EPERM;
					break;
				}
				vp->simp_page = page;
			}
			vp->simp = value & (HV_MSR_PAGE_GPA_MASK | HV_MSR_SIMP_ENABLE);
			irq = deliver_all_locked(s, vp_index);
			break;
		case HV_MSR_EOM:
			irq = deliver_all_locked(s, vp_index);
			break;
		default:
			err = -ENOENT;
		}
	}
	if (irq)
		vp->interrupts++;
	pthread_mutex_unlock(&s->lock);

	if (irq)
		interrupt_vp(s, vp_index);
	return err;
}

unsigned int synic_backlog(struct synic *s, uint32_t sint)
{
	unsigned int longest = 0;
	uint32_t v;

	if (sint >= HV_SYNIC_SINT_COUNT)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (v = 0; v < s->nr_vps; v++)
		if (s->vp[v].queue[sint].count > longest)
			longest = s->vp[v].queue[sint].count;
	pthread_mutex_unlock(&s->lock);
	return longest;
}

void synic_describe(struct synic *s, FILE *out)
{
	uint32_t v, i;

	pthread_mutex_lock(&s->lock);
	for (v = 0; v < s->nr_vps; v++) {
		struct synic_vp *vp = &s->vp[v];
		unsigned int queued = 0, unmasked = 0;

		for (i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
			queued += vp->queue[i].count;
			if (sint_unmasked(vp, i))
				unmasked |= 1u << i;
		}
		fprintf(out,
			"vp %u: scontrol %" PRIu64 " simp %#" PRIx64 " siefp %#" PRIx64
			" unmasked-sints %#x queued %u delivered %" PRIu64
			" interrupts %" PRIu64 "\n",
			v, vp->scontrol, vp->simp, vp->siefp, unmasked, queued,
			vp->delivered, vp->interrupts);
	}
	pthread_mutex_unlock(&s->lock);
}
