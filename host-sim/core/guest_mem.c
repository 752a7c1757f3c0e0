// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "core/guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int map_whole(struct guest_mem *m, int fd, uint64_t size)
{
	void *base;

	if (size == 0 || size % GUEST_PAGE_SIZE || size > SIZE_MAX)
		return -EINVAL;
	base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	m->fd = fd;
	m->base = base;
	m->size = size;
	m->nr_pages = size >> GUEST_PAGE_SHIFT;
	return 0;
}

int guest_mem_create(struct guest_mem *m, const char *path, uint64_t size)
{
	int fd, err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % GUEST_PAGE_SIZE || size > (uint64_t)INT64_MAX)
		return -EINVAL;
	m->path = strdup(path);
	if (!m->path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = -errno;
		goto fail_path;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto fail_file;
	}
	err = map_whole(m, fd, size);
	if (err)
		goto fail_file;
	return 0;
fail_file:
	close(fd);
	unlink(path);
fail_path:
	free(m->path);
	m->path = NULL;
	return err;
}

int guest_mem_open(struct guest_mem *m, const char *path)
{
	struct stat st;
	int fd, err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return -EINVAL;
	}
	err = map_whole(m, fd, (uint64_t)st.st_size);
	if (err)
		close(fd);
	return err;
}

void guest_mem_close(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, (size_t)m->size);
	if (m->fd >= 0 && m->base)
		close(m->fd);
	if (m->path) {
		unlink(m->path);
		free(m->path);
	}
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void *guest_mem_ptr(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (!m->base || gpa >= m->size || len > m->size - gpa)
		return NULL;
	return m->base + gpa;
}

void *guest_mem_map_pfns(struct guest_mem *m, const uint64_t *pfns, size_t count,
			 size_t mirror_pages)
{
	size_t total, i, run;
	uint8_t *view;
	int err;

	if (!m->base || !pfns || count == 0 || mirror_pages > count ||
	    count > SIZE_MAX / GUEST_PAGE_SIZE / 2) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < count; i++) {
		if (!guest_mem_pfn_valid(m, pfns[i])) {
			errno = EFAULT;
			return NULL;
		}
	}
	total = count + mirror_pages;
	/* Reserve the address range first, so the MAP_FIXED calls cannot land on anything else. */
	view = mmap(NULL, total * GUEST_PAGE_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (view == MAP_FAILED)
		return NULL;

	/*
	 * Physically contiguous runs share one mapping: a large GPADL would
	 * otherwise spend one VMA per page against vm.max_map_count.
	 */
	for (i = 0; i < total; i += run) {
		size_t src = i < count ? i : count - mirror_pages + (i - count);
		size_t limit = i < count ? count - i : total - i;
		uint64_t first = pfns[src];
		void *p = MAP_FAILED;

		for (run = 1; run < limit; run++)
			if (pfns[src + run] != first + run)
				break;
		/*
		 * Check the values actually mapped: callers may hand in a PFN
		 * list that the guest can still change under us.
		 */
		if (first < m->nr_pages && run <= m->nr_pages - first)
			p = mmap(view + i * GUEST_PAGE_SIZE, run * GUEST_PAGE_SIZE,
				 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 m->fd, (off_t)(first << GUEST_PAGE_SHIFT));
		else
			errno = EFAULT;
		if (p == MAP_FAILED) {
			err = errno;
			munmap(view, total * GUEST_PAGE_SIZE);
			errno = err;
			return NULL;
		}
	}
	return view;
}

void guest_mem_unmap(void *view, size_t count, size_t mirror_pages)
{
	if (view)
		munmap(view, (count + mirror_pages) * GUEST_PAGE_SIZE);
}
