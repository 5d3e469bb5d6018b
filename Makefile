# wlb — build, test, benchmark, install.  `make help` lists the targets.
#
# Dependencies are Debian packages (tools/deps.sh installs what is missing when
# run as root, otherwise prints the apt-get line).  CUDA parts build only when
# nvcc is found under CUDA_HOME or on PATH.

CC       ?= cc
CFLAGS   ?= -O2 -g
PREFIX   ?= /usr/local
BUILD    ?= build
BINDIR   ?= bin
CUDA_HOME ?= /usr/local/cuda

WARN     := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Werror=implicit-function-declaration
ALL_CPPFLAGS := -D_POSIX_C_SOURCE=200809L -Isim $(CPPFLAGS)
ALL_CFLAGS   := $(WARN) $(CFLAGS)
LIBS     := -lgsl -lgslcblas -ljansson -lsqlite3 -lm

NVCC     := $(firstword $(wildcard $(CUDA_HOME)/bin/nvcc) $(shell command -v nvcc 2>/dev/null))

SIM_SRC  := $(sort $(wildcard sim/*.c))
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libwlb.a
CMDS     := wlb-trace
BINS     := $(CMDS:%=$(BINDIR)/%)
TEST_SRC := $(sort $(wildcard tests/test_*.c)) tests/main.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
UNIT     := $(BUILD)/tests/unit
BENCH    := $(BUILD)/tests/bench_pack

.PHONY: all deps test asan bench install clean help
all: $(BINS)

help:
	@echo "make            build libwlb and the commands into $(BINDIR)/"
	@echo "make test       run every test that needs no GPU (ends with 'N passed, M failed')"
	@echo "make asan       the same under AddressSanitizer + UBSan"
	@echo "make bench      packing benchmarks, each with its target"
	@echo "make install    install commands and data under PREFIX=$(PREFIX)"
	@echo "make clean      remove build/ and bin/"

deps:
	@sh tools/deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(SIM_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BINDIR)/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(UNIT): $(TEST_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BENCH): $(BUILD)/tests/bench_pack.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

test: $(BINS) $(UNIT)
	@WLB_BIN=$(BINDIR) WLB_UNIT=$(UNIT) sh tests/run.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BINDIR=build/asan/bin \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

bench: $(BINS) $(BENCH)
	@WLB_BIN=$(BINDIR) sh tests/bench.sh $(BENCH)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wlb/traces
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 traces/*.json $(DESTDIR)$(PREFIX)/share/wlb/traces/
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/wlb
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 sim/*.h $(DESTDIR)$(PREFIX)/include/wlb/

clean:
	rm -rf build $(BINDIR)

.SECONDARY:
-include $(SIM_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/tools/*.d $(BUILD)/tests/bench_pack.d
