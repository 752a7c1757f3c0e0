/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Guest RAM as host-sim sees it: QEMU backs the guest's RAM with a shared
 * file (/dev/shm/hvsim-NAME-ram) that hvsim creates and maps too. On the pc
 * machine with at most 3 GiB, guest physical address == file offset.
 *
 * Every GPA and length comes from the guest: these functions are the only
 * way host-sim turns one into a pointer, and they check every byte.
 */
#ifndef HVSIM_CORE_GUEST_MEM_H
#define HVSIM_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE_SIZE		4096u
#define GUEST_PAGE_SHIFT	12

struct guest_mem {
	int fd;
	uint8_t *base;		/* whole RAM, MAP_SHARED */
	uint64_t size;		/* bytes, a multiple of GUEST_PAGE_SIZE */
	uint64_t nr_pages;
	char *path;		/* set when this process created the file */
};

/*
 * Create path (must not exist) with size bytes and map it. The file is
 * unlinked by guest_mem_close(). Returns 0 or -errno.
 */
int guest_mem_create(struct guest_mem *m, const char *path, uint64_t size);
/* Map an existing RAM file (tests, tools). Returns 0 or -errno. */
int guest_mem_open(struct guest_mem *m, const char *path);
/* Unmap, close and, if created here, unlink. Safe on a zeroed struct. */
void guest_mem_close(struct guest_mem *m);

/*
 * Pointer to guest bytes [gpa, gpa + len), or NULL if any of them lies
 * outside RAM or gpa + len overflows. len 0 is valid for gpa < size.
 */
void *guest_mem_ptr(struct guest_mem *m, uint64_t gpa, uint64_t len);

static inline bool guest_mem_pfn_valid(const struct guest_mem *m, uint64_t pfn)
{
	return pfn < m->nr_pages;
}

/*
 * A new contiguous view of count guest pages (e.g. a GPADL), built from
 * MAP_SHARED|MAP_FIXED mappings of the RAM file inside a reserved region,
 * so host and guest see each other's writes. The last mirror_pages pages of
 * the view (a ring's data area) are mapped a second time right after it,
 * so a consumer can read or write a record across the wrap with one
 * memcpy. mirror_pages <= count. NULL (errno set) for any PFN outside RAM,
 * count 0, or if the mapping fails.
 */
void *guest_mem_map_pfns(struct guest_mem *m, const uint64_t *pfns, size_t count,
			 size_t mirror_pages);
void guest_mem_unmap(void *view, size_t count, size_t mirror_pages);

#endif /* HVSIM_CORE_GUEST_MEM_H */
