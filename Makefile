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
VERSION  := 0.1
ALL_CPPFLAGS := -D_POSIX_C_SOURCE=200809L -Isim -Iprofiler -Ibackend -DWLB_VERSION='"$(VERSION)"' \
                -DWLB_DATADIR='"$(PREFIX)/share/wlb"' $(CPPFLAGS)
ALL_CFLAGS   := $(WARN) $(CFLAGS)
LIBS     := -lgsl -lgslcblas -ljansson -lsqlite3 -lm -lpthread

NVCC     := $(firstword $(wildcard $(CUDA_HOME)/bin/nvcc) $(shell command -v nvcc 2>/dev/null))

# backend/: the GPU primitives.  With nvcc, the .cu files for Ampere (sm_80)
# and Hopper (sm_90) and the CUDA libraries; without, gpu_none.c, whose calls
# say so.  The plain C parts (CPU reference kernels, rank launch) build always.
BACKEND_C := $(filter-out backend/gpu_none.c,$(sort $(wildcard backend/*.c)))
ifneq ($(NVCC),)
CUDA_LIBDIRS := $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib)
GPU_OBJ  := $(patsubst %.cu,$(BUILD)/%.o,$(sort $(wildcard backend/*.cu)))
GPU_LIBS := $(CUDA_LIBDIRS:%=-L%) $(CUDA_LIBDIRS:%=-Wl,-rpath,%) -lcublasLt -lcublas -lcudart \
            -lnccl -ldl -lstdc++
NVFLAGS  := -O3 -std=c++17 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
            -Xcompiler -Wall,-Wextra -Werror all-warnings -Isim -Ibackend
else
GPU_OBJ  := $(BUILD)/backend/gpu_none.o
GPU_LIBS :=
endif
BACKEND_OBJ := $(BACKEND_C:%.c=$(BUILD)/%.o) $(GPU_OBJ)
BACKEND_LIB := $(BUILD)/libwlb_backend.a

SIM_SRC  := $(sort $(wildcard sim/*.c))
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libwlb.a
CMDS     := wlb-trace wlb-profile wlb-sim wlb-tune wlb-plot wlb-run
BINS     := $(CMDS:%=$(BINDIR)/%)
PROF_OBJ := $(BUILD)/profiler/analytic.o $(BUILD)/profiler/shapes.o $(BUILD)/profiler/measure.o \
            $(BUILD)/profiler/import_attn.o
GPUS     := h100-sxm h200 a100-80g
COSTDBS  := $(GPUS:%=$(BUILD)/costdb/%.db)
TEST_SRC := $(sort $(wildcard tests/test_*.c)) tests/main.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
UNIT     := $(BUILD)/tests/unit
BENCH    := $(BUILD)/tests/bench_pack $(BUILD)/tests/bench_cost $(BUILD)/tests/bench_des

.PHONY: all deps test test-gpu asan bench install clean help
all: $(BINS) $(COSTDBS)

help:
	@echo "make            build libwlb and the commands into $(BINDIR)/"
	@echo "make test       run every test that needs no GPU (ends with 'N passed, M failed')"
	@echo "make test-gpu   the GPU checks (kernels against CPU references, NCCL values, a short profile)"
	@echo "make test-emu   the attention kernels' logic on the CPU, every case"
	@echo "make asan       the same under AddressSanitizer + UBSan"
	@echo "make check-props N=20000 SEED=1  N random traces through the invariant checks (props)"
	@echo "make valgrind   unit tests and 300 property cases under valgrind memcheck (VG_SKIP=\"name ...\")"
	@echo "make fuzz       each parser's libFuzzer harness for FUZZ_SECONDS=$(FUZZ_SECONDS) s (clang)"
	@echo "make bench      packing benchmarks, each with its target"
	@echo "make install    install commands and data under PREFIX=$(PREFIX)"
	@echo "                (and libwlb.so, include/wlb.h, lib/pkgconfig/wlb.pc; DESTDIR honoured)"
	@echo "make examples   build the C example of libwlb (examples/pack_stream.c) against libwlb.so"
	@echo "make clean      remove build/ and bin/"

deps:
	@sh tools/deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(SIM_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/backend/%.o: backend/%.cu | deps
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

$(BACKEND_LIB): $(BACKEND_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BINDIR)/%: $(BUILD)/tools/%.o $(BUILD)/tools/opts.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BINDIR)/wlb-profile: $(BUILD)/profiler/wlb-profile.o $(BUILD)/profiler/gpu_timer.o $(PROF_OBJ) $(BACKEND_LIB) $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(GPU_LIBS)

$(BINDIR)/wlb-tune: $(BUILD)/tools/wlb-tune.o $(BUILD)/tools/export.o $(BUILD)/tools/validate.o $(BUILD)/tools/opts.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BINDIR)/wlb-run: $(BUILD)/tools/wlb-run.o $(BUILD)/tools/opts.o $(BACKEND_LIB) $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(GPU_LIBS)

$(BINDIR)/wlb-plot: $(BUILD)/tools/wlb-plot.o $(BUILD)/tools/plot.o $(BUILD)/tools/plot_cmp.o \
                    $(BUILD)/tools/plot_read.o $(BUILD)/tools/opts.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# the built-in analytic cost DBs, found by the commands without --costdb
$(BUILD)/costdb/%.db: $(BINDIR)/wlb-profile
	@mkdir -p $(dir $@)
	@rm -f $@
	$(BINDIR)/wlb-profile --analytic --gpu $* -o $@ >/dev/null

$(UNIT): $(TEST_OBJ) $(PROF_OBJ) $(BACKEND_C:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/bench_%: $(BUILD)/tests/bench_%.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# make bench: a 100M-document Megatron-LM .idx through wlb-trace stats, against
# cat (tests/bench_idx.c writes it under $(BUILD), tests/bench.sh deletes it)
BENCH    += $(BUILD)/tests/bench_idx

# the GPU interface on a real GPU: device query, GEMM values, timings, NCCL
$(BUILD)/tests/gpu/check_gpu: $(BUILD)/tests/gpu/check_gpu.o $(BACKEND_LIB) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(GPU_LIBS)
GPU_CHECKS += $(BUILD)/tests/gpu/check_gpu

# The attention kernels' logic on the CPU: attn.cu and its GPU check compiled
# as C++ against tests/gpu/emu.h, which runs every CUDA thread as a thread
# (mma fragments, shuffles, barriers, atomics emulated).  make test runs two
# of its cases; make test-emu all five (a minute or two).
CXX      ?= g++
EMU      := $(BUILD)/tests/gpu/check_attn_emu
EMUFLAGS := -std=c++20 -O1 -pthread -DWLB_CUDA_EMU -Ibackend -include tests/gpu/emu.h
$(EMU): backend/attn.cu tests/gpu/check_attn.cu tests/gpu/emu.h backend/attn_ref.c backend/attn.h \
        backend/attn_cuda.h
	@mkdir -p $(dir $@)
	$(CXX) $(EMUFLAGS) -x c++ -c backend/attn.cu -o $@-attn.o
	$(CXX) $(EMUFLAGS) -x c++ -c tests/gpu/check_attn.cu -o $@-check.o
	$(CC) -O1 -Ibackend -c backend/attn_ref.c -o $@-ref.o
	$(CXX) -pthread $@-attn.o $@-check.o $@-ref.o -o $@

.PHONY: test-emu
test-emu: $(EMU)
	$(EMU)

test: $(BINS) $(COSTDBS) $(UNIT) $(EMU)
	@WLB_BIN=$(BINDIR) WLB_UNIT=$(UNIT) WLB_EMU=$(EMU) sh tests/run.sh

# the attention kernels against the CPU float64 reference.  nvcc links it:
# GPU_LIBS's -Wl,x,y become -Xlinker x,y, which nvcc hands to the host
# linker.  Without nvcc, building it (so make test-gpu) fails saying so.
GPU_CHECKS += $(BUILD)/tests/gpu/check_attn tests/gpu/check_run.sh
comma    := ,
ifneq ($(NVCC),)
$(BUILD)/tests/gpu/check_attn: tests/gpu/check_attn.cu $(BUILD)/backend/attn.o $(BUILD)/backend/attn_ref.o
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -o $@ $^ $(subst -Wl$(comma),-Xlinker ,$(GPU_LIBS))
else
$(BUILD)/tests/gpu/check_attn:
	@echo "make test-gpu: no nvcc: the CUDA toolkit is needed"; exit 1
endif

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BINDIR=build/asan/bin \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

bench: $(BINS) $(BENCH) $(COSTDBS)
	@WLB_BIN=$(BINDIR) sh tests/bench.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wlb/traces
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 traces/*.json $(DESTDIR)$(PREFIX)/share/wlb/traces/
	install -d $(DESTDIR)$(PREFIX)/share/wlb/traces/paper
	install -m 644 traces/paper/*.json $(DESTDIR)$(PREFIX)/share/wlb/traces/paper/
	install -d $(DESTDIR)$(PREFIX)/share/wlb/traces/run
	install -m 644 traces/run/*.json $(DESTDIR)$(PREFIX)/share/wlb/traces/run/
	install -d $(DESTDIR)$(PREFIX)/share/wlb/costdb
	install -m 644 $(COSTDBS) $(DESTDIR)$(PREFIX)/share/wlb/costdb/
# the library's public face is include/wlb.h, libwlb.so and wlb.pc
# (install-lib, below); the internal headers and libwlb.a stay in the tree

clean:
	rm -rf build $(BINDIR)

# ---- libwlb.so: the public API (sim/wlb.h) as a shared library ----
# Versioned soname (libwlb.so.0 -> libwlb.so.0.1).  Every C object is built
# -fPIC with hidden visibility, so the static libwlb.a keeps working and the
# .so exports only what wlb.h marks WLB_API (check: nm -D --defined-only).
SOMAJOR  := $(firstword $(subst ., ,$(VERSION)))
SHLIB    := $(BUILD)/libwlb.so.$(VERSION)
EXAMPLES := $(BUILD)/examples/pack_stream
ALL_CFLAGS += -fPIC -fvisibility=hidden

.PHONY: examples install-lib
all: $(SHLIB)

# objects from before -fPIC are rebuilt once: the stamp is newer than them
$(SIM_OBJ): $(BUILD)/.pic-stamp
$(BUILD)/.pic-stamp:
	@mkdir -p $(BUILD)
	@touch $@

$(SHLIB): $(SIM_OBJ)
	$(CC) -shared -Wl,-soname,libwlb.so.$(SOMAJOR) $(LDFLAGS) -o $@ $^ $(LIBS) -ldl
	ln -sf libwlb.so.$(VERSION) $(BUILD)/libwlb.so.$(SOMAJOR)
	ln -sf libwlb.so.$(SOMAJOR) $(BUILD)/libwlb.so

# the C example, built as a user would: wlb.h only, linked to the .so
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c sim/wlb.h $(SHLIB)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -Isim -o $@ $< -L$(BUILD) -lwlb -Wl,-rpath,$(abspath $(BUILD))

# the Python tests (tests/run.sh) load this library
test: $(SHLIB) $(EXAMPLES)
test: export WLB_LIB := $(abspath $(SHLIB))

install: install-lib
install-lib: $(SHLIB)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libwlb.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libwlb.so.$(SOMAJOR)
	ln -sf libwlb.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libwlb.so
	install -m 644 sim/wlb.h $(DESTDIR)$(PREFIX)/include/wlb.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LIBS) -ldl|' \
	  sim/wlb.pc.in >$(DESTDIR)$(PREFIX)/lib/pkgconfig/wlb.pc
# ---- end of libwlb.so ----

.SECONDARY:
-include $(wildcard $(BUILD)/backend/*.d)
-include $(SIM_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(wildcard $(BUILD)/tools/*.d $(BUILD)/profiler/*.d) \
         $(wildcard $(BUILD)/tests/bench_*.d $(BUILD)/tests/gpu/*.d)

# Property tests and valgrind (README "Property tests and valgrind").
# props draws random traces and checks the invariants of packer, sharder,
# simulator and config round trip; make test runs PROPS_N cases of seed 1,
# make check-props N cases of SEED.  make valgrind runs the unit tests and
# 300 property cases, built -O1 -g in build/valgrind, under memcheck; VG_SKIP
# (unit test names, space separated) leaves tests out there.
PROPS    := $(BUILD)/tests/props
PROPS_N  ?= 3000
N        ?= 20000
SEED     ?= 1
VG_SKIP  ?=
$(PROPS): $(BUILD)/tests/props.o $(BUILD)/tests/props_gen.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
-include $(BUILD)/tests/props.d $(BUILD)/tests/props_gen.d
test: $(PROPS)
test: export WLB_PROPS = $(PROPS) -q -n $(PROPS_N) -c $(BUILD)/costdb/h100-sxm.db
.PHONY: check-props valgrind
check-props: $(PROPS) $(BUILD)/costdb/h100-sxm.db
	$(PROPS) -n $(N) -s $(SEED) -c $(BUILD)/costdb/h100-sxm.db
VALGRIND := valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite -q
valgrind: $(BUILD)/costdb/h100-sxm.db
	@command -v valgrind >/dev/null || { echo "make valgrind: valgrind is not installed (apt-get install valgrind)"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build/valgrind BINDIR=build/valgrind/bin CFLAGS="-O1 -g" \
	  build/valgrind/tests/unit build/valgrind/tests/props
	WLB_SKIP="$(VG_SKIP)" $(VALGRIND) build/valgrind/tests/unit
	$(VALGRIND) build/valgrind/tests/props -q -n 300 -c $(BUILD)/costdb/h100-sxm.db
# ---- fuzzing (tests/fuzz/): one libFuzzer harness per parser.  make fuzz
# builds them with clang and ASan + UBSan into build/fuzz/ (the library too,
# instrumented) and runs each for FUZZ_SECONDS on a scratch copy of its seed
# corpus (build/fuzz/corpus/NAME); make test replays every corpus file through
# the same harnesses built with $(CC) (replay.c's main), make asan with the
# sanitizers. ----
FUZZ_NAMES   := trace config report lengths idx nccl attn costdb
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_REPLAY  := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay_%)
FUZZ_COMMON  := $(BUILD)/tests/fuzz/fuzz_tmp.o $(LIB)
$(BUILD)/fuzz_report $(BUILD)/tests/fuzz/replay_report: $(BUILD)/tools/plot_read.o
$(BUILD)/fuzz_attn $(BUILD)/tests/fuzz/replay_attn: $(BUILD)/profiler/import_attn.o

$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LIBS)

# only inside make fuzz (BUILD=build/fuzz, CC=clang, LDFLAGS with -fsanitize=fuzzer)
$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LIBS)

test: $(FUZZ_REPLAY)

.PHONY: fuzz
fuzz:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CC) not found: clang 14 or later (with libFuzzer) is needed"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=$(FUZZ_CC) \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  LDFLAGS="-fsanitize=fuzzer $(FUZZ_SAN)" $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
	@sh tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)
-include $(wildcard $(BUILD)/tests/fuzz/*.d)

# make test-gpu: every GPU check (GPU_CHECKS, added to above), each printing
# "N passed, M failed" and exiting 2 when there is no CUDA device.  Last in
# this file, so that its prerequisites see every addition.
test-gpu: $(GPU_CHECKS) $(BINS) $(COSTDBS)
	@st=0; for c in $(GPU_CHECKS); do WLB_BIN=$(BINDIR) $$c || st=1; done; exit $$st
