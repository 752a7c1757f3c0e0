// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * guest_mem: bounds of guest_mem_ptr() and the views of
 * guest_mem_map_pfns(), including the mirrored ring data area, against a
 * RAM file in /tmp.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/guest_mem.h"

#define RAM_PAGES	32

static char ram_path[64];
static struct guest_mem mem;

static uint8_t *page(uint64_t pfn)
{
	return mem.base + pfn * GUEST_PAGE_SIZE;
}

/* Every page starts filled with its own PFN, so a view shows what it maps. */
static void fill_pages(void)
{
	uint64_t pfn;

	for (pfn = 0; pfn < RAM_PAGES; pfn++)
		memset(page(pfn), (int)pfn, GUEST_PAGE_SIZE);
}

static void test_create_and_open(void)
{
	struct guest_mem other;

	REQUIRE(mem.base != NULL);
	CHECK(mem.size == RAM_PAGES * GUEST_PAGE_SIZE);
	CHECK(mem.nr_pages == RAM_PAGES);
	CHECK(access(ram_path, F_OK) == 0);
	/* An existing file is refused: RAM files are never shared by two runs. */
	CHECK(guest_mem_create(&other, ram_path, GUEST_PAGE_SIZE) == -EEXIST);
	CHECK(guest_mem_create(&other, "/tmp/unused", 100) == -EINVAL);

	REQUIRE(guest_mem_open(&other, ram_path) == 0);
	CHECK(other.size == mem.size);
	other.base[5] = 0x5a;
	CHECK(mem.base[5] == 0x5a);
	guest_mem_close(&other);
	/* Opened, not created: closing must not unlink the file. */
	CHECK(access(ram_path, F_OK) == 0);
}

static void test_ptr_bounds(void)
{
	uint64_t size = mem.size;

	CHECK(guest_mem_ptr(&mem, 0, size) == mem.base);
	CHECK(guest_mem_ptr(&mem, 0, 0) == mem.base);
	CHECK(guest_mem_ptr(&mem, size - 1, 1) == mem.base + size - 1);
	CHECK(guest_mem_ptr(&mem, size - 4096, 4096) == mem.base + size - 4096);
	CHECK(guest_mem_ptr(&mem, size - 1, 2) == NULL);
	CHECK(guest_mem_ptr(&mem, size, 0) == NULL);
	CHECK(guest_mem_ptr(&mem, size, 1) == NULL);
	CHECK(guest_mem_ptr(&mem, 0, size + 1) == NULL);
	/* gpa + len wraps around: must not pass as "small". */
	CHECK(guest_mem_ptr(&mem, UINT64_MAX - 1, 4) == NULL);
	CHECK(guest_mem_ptr(&mem, 1, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&mem, 4096, UINT64_MAX - 100) == NULL);
	CHECK(guest_mem_ptr(&mem, UINT64_MAX, 0) == NULL);
}

static void test_map_view(void)
{
	const uint64_t pfns[] = { 3, 7, 8, 9, 2 };
	size_t i;
	uint8_t *view;

	fill_pages();
	view = guest_mem_map_pfns(&mem, pfns, 5, 0);
	REQUIRE(view != NULL);
	for (i = 0; i < 5; i++) {
		CHECKF(view[i * GUEST_PAGE_SIZE] == pfns[i] &&
		       view[i * GUEST_PAGE_SIZE + GUEST_PAGE_SIZE - 1] == pfns[i],
		       "view page %zu does not show pfn %llu", i, (unsigned long long)pfns[i]);
	}
	/* Shared both ways. */
	view[GUEST_PAGE_SIZE + 10] = 0xee;
	CHECK(page(7)[10] == 0xee);
	page(2)[100] = 0xcc;
	CHECK(view[4 * GUEST_PAGE_SIZE + 100] == 0xcc);
	guest_mem_unmap(view, 5, 0);
}

static void test_map_mirror(void)
{
	/* A ring: header page 4, data pages 10, 11, 6 (not contiguous at the end). */
	const uint64_t pfns[] = { 4, 10, 11, 6 };
	const size_t count = 4, mirror = 3;
	uint8_t *view, *data, record[64];
	size_t data_len = mirror * GUEST_PAGE_SIZE, i;

	fill_pages();
	view = guest_mem_map_pfns(&mem, pfns, count, mirror);
	REQUIRE(view != NULL);
	/* The mirror repeats the last `mirror` pages right after the view. */
	for (i = 0; i < mirror; i++) {
		uint8_t *copy = view + (count + i) * GUEST_PAGE_SIZE;

		CHECKF(copy[0] == pfns[count - mirror + i],
		       "mirror page %zu shows %u", i, copy[0]);
	}
	/* A record written across the wrap lands at the data area's start. */
	data = view + GUEST_PAGE_SIZE;
	for (i = 0; i < sizeof(record); i++)
		record[i] = (uint8_t)(0x80 + i);
	memcpy(data + data_len - 16, record, sizeof(record));
	CHECK(memcmp(page(6) + GUEST_PAGE_SIZE - 16, record, 16) == 0);
	CHECK(memcmp(page(10), record + 16, sizeof(record) - 16) == 0);
	/* And reads across the wrap see both ends. */
	page(6)[GUEST_PAGE_SIZE - 1] = 0x11;
	page(10)[0] = 0x22;
	CHECK(data[data_len - 1] == 0x11 && data[data_len] == 0x22);
	guest_mem_unmap(view, count, mirror);
}

static void test_map_contiguous_runs(void)
{
	/* Runs of consecutive PFNs share a mapping; the view must not care. */
	const uint64_t pfns[] = { 12, 13, 14, 20, 21, 13 };
	uint8_t *view;
	size_t i;

	fill_pages();
	view = guest_mem_map_pfns(&mem, pfns, 6, 6);
	REQUIRE(view != NULL);
	for (i = 0; i < 12; i++) {
		uint64_t want = pfns[i % 6];

		CHECKF(view[i * GUEST_PAGE_SIZE + 7] == want, "page %zu", i);
	}
	guest_mem_unmap(view, 6, 6);
}

static void test_map_rejects(void)
{
	const uint64_t bad_last[] = { 1, 2, RAM_PAGES };
	const uint64_t huge[] = { UINT64_MAX };
	const uint64_t wrap[] = { (UINT64_MAX >> 12) + 1 };
	const uint64_t ok[] = { 1, 2 };

	errno = 0;
	CHECK(guest_mem_map_pfns(&mem, bad_last, 3, 0) == NULL && errno == EFAULT);
	CHECK(guest_mem_map_pfns(&mem, huge, 1, 0) == NULL);
	CHECK(guest_mem_map_pfns(&mem, wrap, 1, 0) == NULL);
	CHECK(guest_mem_map_pfns(&mem, ok, 0, 0) == NULL);
	CHECK(guest_mem_map_pfns(&mem, ok, 2, 3) == NULL);
	CHECK(guest_mem_map_pfns(&mem, NULL, 2, 0) == NULL);
	guest_mem_unmap(NULL, 0, 0);
}

static void test_close_unlinks(void)
{
	guest_mem_close(&mem);
	CHECK(access(ram_path, F_OK) != 0 && errno == ENOENT);
	CHECK(mem.base == NULL);
	/* Twice is harmless. */
	guest_mem_close(&mem);
}

int main(void)
{
	int err;

	snprintf(ram_path, sizeof(ram_path), "/tmp/hvsim-test-ram-%d", (int)getpid());
	unlink(ram_path);
	err = guest_mem_create(&mem, ram_path, RAM_PAGES * GUEST_PAGE_SIZE);
	if (err) {
		printf("FAIL setup: guest_mem_create %s: %s\n", ram_path, strerror(-err));
		return 1;
	}
	RUN_TEST(test_create_and_open);
	RUN_TEST(test_ptr_bounds);
	RUN_TEST(test_map_view);
	RUN_TEST(test_map_mirror);
	RUN_TEST(test_map_contiguous_runs);
	RUN_TEST(test_map_rejects);
	RUN_TEST(test_close_unlinks);
	guest_mem_close(&mem);
	return check_finish();
}
