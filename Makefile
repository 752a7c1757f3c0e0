# SPDX-License-Identifier: GPL-2.0
#
# Top-level build of Viridian: the guest kernel modules (through kbuild and
# the top-level Kbuild), the host simulator build/hvsim, and the guest boot
# artefacts for one kernel. Nothing here needs root.
#
#   make                 modules + hvsim + guest artefacts for $(KVER)
#   make check           everything tests/run knows, ends "N passed, N failed"
#   make unit|kunit|e2e  one test group
#   make KVER=6.12.x-amd64 ...   another installed kernel (headers + modules)

SHELL := /bin/bash
.DEFAULT_GOAL := all

# The newest kernel whose headers are installed, by version sort.
KVER ?= $(shell scripts/default-kver)
KDIR := /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
MODDIR := $(BUILD)/modules/$(KVER)
GUESTDIR := $(BUILD)/guest/$(KVER)

ifeq ($(KVER),)
$(error no kernel installed with both /boot/vmlinuz-KVER and /lib/modules/KVER/build; install linux-image-amd64 and linux-headers-amd64, or pass KVER=)
endif

# ---------------------------------------------------------------------------
# Guest kernel modules. Every drivers/NAME/ with a Kbuild file is one module,
# built by kbuild through the top-level Kbuild.
#
# kbuild runs on a mirror of the sources, build/kbuild/KVER/ (rsync keeps
# their mtimes, so kbuild stays incremental), not in the source tree: its
# objects would otherwise be shared with any one-folder build run in
# drivers/NAME/ meanwhile (modpost of one run, .ko of the other), and
# alternating KVERs would rebuild everything each time. Compiler messages
# are mapped back to the real paths.
#
# kbuild is only entered when a module input is newer than the stamp, so a
# no-change `make` costs a find instead of a kbuild walk and modpost run.

MODULE_FOLDERS := $(patsubst %/Kbuild,%,$(wildcard drivers/*/Kbuild))
MODULE_INPUTS := Kbuild $(shell find drivers include -type f \
	\( -name '*.c' -o -name '*.h' -o -name Kbuild -o -name Makefile \) \
	-not -name '*.mod.c' 2>/dev/null | LC_ALL=C sort)
MODULE_STAMP := $(MODDIR)/.stamp
KBUILD_DIR := $(BUILD)/kbuild/$(KVER)
# Sources only, in both directions: --delete drops sources removed here but
# leaves kbuild's outputs in the mirror alone (excluded files are kept).
KBUILD_MIRROR_FILTER := --exclude='*.mod.c' --include='*/' --include='*.c' \
	--include='*.h' --include=Kbuild --include=Makefile --exclude='*'

.PHONY: all modules hvsim guest acpi
all: modules hvsim guest acpi

modules: $(MODULE_STAMP)

# A file whose content is a variable's value, rewritten only when the value
# changes: deleting or adding an input then triggers a rebuild too.
define value_file
	@mkdir -p $(@D)
	@printf '%s\n' $(1) | cmp -s - $@ 2>/dev/null || printf '%s\n' $(1) > $@
endef

.PHONY: FORCE
$(MODDIR)/.inputs: FORCE
	$(call value_file,$(MODULE_INPUTS))

# Module.symvers of the headers changes when the kernel package is rebuilt
# under the same release name; our modules must follow it.
$(MODULE_STAMP): $(MODULE_INPUTS) $(MODDIR)/.inputs \
		$(wildcard $(KDIR)/Module.symvers) Makefile
	@test -d $(KDIR) || { echo "error: $(KDIR) missing (linux-headers-$(KVER))" >&2; exit 1; }
	@mkdir -p $(MODDIR) $(KBUILD_DIR)
	@rm -f $(MODDIR)/*.ko
	@if [ -z "$(MODULE_FOLDERS)" ]; then \
		echo "  MODULES  none yet (no drivers/*/Kbuild)"; \
	else \
		set -o pipefail; \
		rsync -a --delete --prune-empty-dirs $(KBUILD_MIRROR_FILTER) \
			Kbuild drivers include $(KBUILD_DIR)/ && \
		$(MAKE) -C $(KDIR) M=$(KBUILD_DIR) W=1 modules 2>&1 | \
			sed -u 's|$(KBUILD_DIR)/|$(CURDIR)/|g' && \
		for ko in $$(sed -e 's/\.o$$/.ko/' $(KBUILD_DIR)/modules.order); do \
			cp -p "$(KBUILD_DIR)/$${ko#$(KBUILD_DIR)/}" $(MODDIR)/ || exit 1; \
		done && \
		echo "  MODULES  $$(cd $(MODDIR) && ls *.ko | tr '\n' ' ')-> $(MODDIR)/"; \
	fi
	@touch $@

# ---------------------------------------------------------------------------
# build/hvsim: every C file under host-sim/, whoever adds it.

HVSIM_SOURCES := $(shell find host-sim -name '*.c' 2>/dev/null | sort)
HVSIM_OBJDIR := $(BUILD)/obj
HVSIM_OBJECTS := $(patsubst %.c,$(HVSIM_OBJDIR)/%.o,$(HVSIM_SOURCES))
HVSIM_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g \
	-Iinclude -Ihost-sim $(EXTRA_CFLAGS)
HVSIM_LDLIBS := -lpthread

ifeq ($(HVSIM_SOURCES),)
hvsim:
	@echo "  HVSIM    none yet (no host-sim/**/*.c)"
else
hvsim: $(BUILD)/hvsim
endif

$(HVSIM_OBJDIR)/.sources: FORCE
	$(call value_file,$(HVSIM_SOURCES))

$(BUILD)/hvsim: $(HVSIM_OBJECTS) $(HVSIM_OBJDIR)/.sources
	@echo "  LD       $@"
	@$(CC) $(HVSIM_CFLAGS) -o $@ $(HVSIM_OBJECTS) $(HVSIM_LDLIBS)

$(HVSIM_OBJDIR)/%.o: %.c Makefile
	@mkdir -p $(@D)
	@echo "  CC       $<"
	@$(CC) $(HVSIM_CFLAGS) -MMD -MP -c -o $@ $<

-include $(HVSIM_OBJECTS:.o=.d)

# ---------------------------------------------------------------------------
# The SSDT host-sim gives its guests (the ACPI VMBus device), compiled by
# iasl (acpica-tools).

ACPI_TABLE := $(BUILD)/acpi/vmbus-ssdt.aml
acpi: $(ACPI_TABLE)

$(ACPI_TABLE): host-sim/acpi/vmbus-ssdt.asl Makefile
	@command -v iasl >/dev/null || { echo "error: iasl missing (apt-get install acpica-tools)" >&2; exit 1; }
	@mkdir -p $(@D)
	@echo "  IASL     $<"
	@iasl -vs -vi -p $(basename $@) $< >$(@D)/iasl.log 2>&1 || { cat $(@D)/iasl.log >&2; exit 1; }

# ---------------------------------------------------------------------------
# Guest boot artefacts. make-guest decides itself whether its inputs changed.

guest: modules
	@host-sim/guest/make-guest $(KVER)

# ---------------------------------------------------------------------------
# Tests. Each group target builds what that group needs first.

.PHONY: check build-test unit kunit e2e dkms-test bench
check: all
	@tests/run

build-test:
	@tests/run --build

unit:
	@tests/run --unit

kunit:
	@tests/run --kunit

e2e: all
	@tests/run --e2e

dkms-test:
	@tests/run --dkms

bench: all
	@if [ -x bench/run ]; then bench/run; else echo "bench/run not written yet"; fi

# ---------------------------------------------------------------------------
# DKMS: install the current tree as viridian/$(VERSION) for every kernel
# (needs root). tests/dkms/run exercises the same path in a scratch way.

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf 2>/dev/null)
DKMS_SRC := /usr/src/viridian-$(VERSION)
# What a DKMS source tree holds: sources only, never our in-tree objects.
DKMS_SOURCE_FILTER := --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
	--exclude='*.mod' --exclude='*.mod.c' --exclude=modules.order \
	--exclude=Module.symvers --exclude='*.a' --exclude='.*.d'

.PHONY: install uninstall
install:
	@test "$$(id -u)" = 0 || { echo "make install needs root (dkms)" >&2; exit 1; }
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	rsync -a $(DKMS_SOURCE_FILTER) dkms.conf Kbuild drivers include packaging $(DKMS_SRC)/
	install -D -m 0644 packaging/modprobe.d/viridian.conf /etc/modprobe.d/viridian.conf
	install -D -m 0755 packaging/libexec/viridian-hyperv-gate \
		/usr/lib/viridian/viridian-hyperv-gate
	install -D -m 0755 packaging/initramfs-tools/hooks/viridian \
		/etc/initramfs-tools/hooks/viridian
	dkms add -m viridian -v $(VERSION)
	dkms install -m viridian -v $(VERSION) -k $(KVER)

uninstall:
	@test "$$(id -u)" = 0 || { echo "make uninstall needs root (dkms)" >&2; exit 1; }
	-dkms remove -m viridian -v $(VERSION) --all
	rm -rf $(DKMS_SRC)
	rm -f /etc/modprobe.d/viridian.conf /etc/initramfs-tools/hooks/viridian \
		/usr/lib/viridian/viridian-hyperv-gate
	-rmdir /usr/lib/viridian
	@if [ -e /boot/initrd.img-$(KVER) ]; then update-initramfs -u -k $(KVER); fi

# ---------------------------------------------------------------------------

.PHONY: clean distclean
# build/kunit/ (the KUnit harness's kernel source and UML build: 1.3 GB and
# many minutes of compiling, none of it ours) survives `clean`; `distclean`
# removes it too.
clean:
	@find $(BUILD) -mindepth 1 -maxdepth 1 -not -name kunit -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(BUILD)
