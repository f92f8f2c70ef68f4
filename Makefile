# SPDX-License-Identifier: MIT
# pytrace: build, test, demo. GNU make, gcc, pkg-config.

CC       ?= gcc
PKGS     := libdw libelf zlib
CFLAGS   ?= -O2 -g
PT_CFLAGS := $(CFLAGS) -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PT_LDLIBS := $(LDFLAGS) $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BUILD    ?= build
# Debian's python3 runs the tests (python3-pytest); PATH may hold others.
PYTEST   ?= /usr/bin/python3 -m pytest -q

# The library: every .c under src/ except the CLI (main.c, cmd/) and the
# agent (src/agent/, built separately below).
LIB_SRC  := $(sort $(filter-out src/main.c src/cmd/% src/agent/%,$(wildcard src/*.c src/*/*.c src/*/*/*.c)))
VERSION  := $(shell cat VERSION)
PT_CFLAGS += -DPYTRACE_VERSION='"$(VERSION)"'
CLI_SRC  := src/main.c $(sort $(wildcard src/cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PYTRACE  := $(BUILD)/pytrace
LIB      := $(BUILD)/libpytrace.a

# The in-target agent of `pytrace flow` (src/agent/): freestanding,
# position-independent, no floating point. Built with fixed flags, never
# with $(CFLAGS) or the sanitizers, and linked into pytrace as a byte array.
AGENT_CFLAGS := -std=c17 -O2 -g0 -Wall -Wextra -Werror -fPIE -ffreestanding -fno-stack-protector \
		-fno-asynchronous-unwind-tables -fno-unwind-tables -mgeneral-regs-only \
		-fvisibility=hidden -fno-plt -Isrc
AGENT_OBJ   := $(BUILD)/agent/agent.o
AGENT_BIN   := $(BUILD)/agent/agent.bin
AGENT_BLOB  := $(BUILD)/gen/agent_blob.o
LIB_OBJ     += $(AGENT_BLOB)

.PHONY: all deps demo check unit e2e asan-check clean offsets man bench install uninstall

all: $(PYTRACE) $(BUILD)/pytrace.1

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PT_CFLAGS) -MMD -MP -c -o $@ $<

$(AGENT_OBJ): src/agent/agent.c src/agent/agent.h tools/check-agent-relocs
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -c -o $@ $<
	tools/check-agent-relocs $@

$(AGENT_BIN): $(AGENT_OBJ) src/agent/agent.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,src/agent/agent.ld -Wl,--build-id=none -o $(@:.bin=.elf) $<
	objcopy -O binary $(@:.bin=.elf) $@

$(BUILD)/gen/agent_blob.c: $(AGENT_BIN) tools/bin2c
	@mkdir -p $(dir $@)
	tools/bin2c pt_agent_blob $< > $@

$(AGENT_BLOB): $(BUILD)/gen/agent_blob.c
	$(CC) $(PT_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PYTRACE): $(CLI_OBJ) $(LIB)
	$(CC) $(PT_CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(PT_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(PT_CFLAGS) -o $@ $< $(LIB) $(PT_LDLIBS)

# The man page comes from the same text as --help (help2man), plus the
# sections in docs/pytrace.h2m.
# Each command's own --help becomes a section of its own, so the page says
# what `pytrace help CMD` says.
$(BUILD)/pytrace.1: docs/pytrace.h2m $(PYTRACE)
	@{ for c in dump stacks flow; do \
		echo "[COMMAND: $$c]"; echo ".nf"; \
		$(PYTRACE) help $$c | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/"; \
		echo ".fi"; echo; done; } > $(BUILD)/commands.h2m
	help2man --no-info --no-discard-stderr --include docs/pytrace.h2m \
		--include $(BUILD)/commands.h2m \
		--name "Python stacks and call flow of live processes, DTrace-style" \
		--output $@ $(PYTRACE)

man: $(BUILD)/pytrace.1

# Installs missing Debian packages when run as root, else prints the apt-get line.
deps:
	@tools/ensure-deps

unit: $(UNIT_BIN)
	@tools/check-offsets
	@tools/gen-syscalls --check
	@tools/run-unit $(UNIT_BIN)

e2e: $(PYTRACE)
	PYTRACE=$(abspath $(PYTRACE)) $(PYTEST) tests/e2e

# Every test, then the whole suite again under ASan/UBSan (on ASAN_PYTHONS).
check: deps
	$(MAKE) all unit e2e
	$(MAKE) asan-check

# The interpreters of the sanitizer pass: one per way pytrace reads a
# CPython (2.7; 3.6-3.9 and 3.10 frame objects; 3.11 with the PEP 523 hook;
# 3.12; 3.13+ debug offsets, in a debug build; 3.14 tagged references; 3.15;
# a free-threaded build; Debian's stripped 3.11.2 with its profile-function
# fallback). PYTRACE_TEST_PYTHONS= (set but empty) runs every interpreter.
ASAN_PYTHONS = 2.7,3.8,3.10,3.11,3.12,sid-3.13-dbg,sid-3.14,sid-3.15,ft-3.13,system

# The same suite under ASan/UBSan, for pytrace's own memory errors: the
# SIGKILL-anywhere tests take 10 kills per command and interpreter here (the
# first pass takes the 50 that make the bar).
asan-check:
	PYTRACE_TEST_KILLS=$${PYTRACE_TEST_KILLS:-10} \
	PYTRACE_TEST_PYTHONS=$${PYTRACE_TEST_PYTHONS-$(ASAN_PYTHONS)} $(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" all unit e2e

demo: deps
	$(MAKE) all
	@tools/demo $(PYTRACE)

# Regenerate src/python/offsets/*.c from the CPython headers on this machine.
offsets:
	tools/gen-offsets

bench: $(PYTRACE)
	bench/run

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# libFuzzer harnesses, tests/fuzz/fuzz_*.c, each against a clang
# ASan/UBSan build of the library in build-fuzz/, run FUZZ_SECONDS each
# with a corpus in build-fuzz/corpus/NAME (crashes: build-fuzz/crash-NAME-*),
# seeded from build-fuzz/seeds/NAME (tests/fuzz/gen_seeds.py).
# Not part of check or CI.
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=undefined -Wno-missing-field-initializers
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(filter-out $(FUZZ_BUILD)/gen/%,$(LIB_OBJ:$(BUILD)/%=$(FUZZ_BUILD)/%))
FUZZ_LIB     := $(FUZZ_BUILD)/libpytrace-fuzz.a

.PHONY: fuzz
$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out $(CFLAGS),$(PT_CFLAGS)) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	$(FUZZ_CC) $(filter-out $(CFLAGS),$(PT_CFLAGS)) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_LIB) $(filter-out $(LDFLAGS),$(PT_LDLIBS))

fuzz: $(FUZZ_BIN)
	@tests/fuzz/gen_seeds.py $(FUZZ_BUILD)/seeds
	@for f in $(FUZZ_BIN); do n=$${f##*/}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
		echo "== $$n ($(FUZZ_SECONDS) s)"; \
		nice -n 10 $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $(FUZZ_BUILD)/corpus/$$n \
			$$(test -d $(FUZZ_BUILD)/seeds/$$n && echo $(FUZZ_BUILD)/seeds/$$n) || exit 1; \
	done

# Installing: the binary and the man page, under PREFIX (staged under
# DESTDIR for packaging).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR  := $(DESTDIR)$(PREFIX)/bin
MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1

install: $(PYTRACE) $(BUILD)/pytrace.1
	install -d $(BINDIR) $(MAN1DIR)
	install -m 0755 $(PYTRACE) $(BINDIR)/pytrace
	install -m 0644 $(BUILD)/pytrace.1 $(MAN1DIR)/pytrace.1

uninstall:
	rm -f $(BINDIR)/pytrace $(MAN1DIR)/pytrace.1
