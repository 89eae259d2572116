# hearth — plain Makefile. `make` builds build/hearth and build/libhearth.a; `make test` runs every test.
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc -pthread -MMD -MP
LDLIBS  += -lm -pthread

BUILD   := build
LIB_SRC := $(wildcard src/*.c) $(wildcard src/*/*.c)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC:= $(wildcard tests/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

all: $(BUILD)/hearth $(TESTS)

$(BUILD)/libhearth.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/hearth: $(CLI_OBJ) $(BUILD)/libhearth.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libhearth.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libhearth.a $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# SIMD kernels: each ISA's file gets its own flags and runs only where kernels.c finds the CPU supports it.
ARCH := $(shell $(CC) -dumpmachine)
ifneq (,$(findstring x86_64,$(ARCH)))
$(BUILD)/src/kernels_avx2.o: CFLAGS += -mavx2 -mfma -mf16c
$(BUILD)/src/kernels_avx512.o: CFLAGS += -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c
endif
ifneq (,$(findstring aarch64,$(ARCH)))
$(BUILD)/src/kernels_dotprod.o: CFLAGS += -march=armv8.2-a+dotprod
endif

test: all
	./tests/run.sh

# Benchmarks are built on demand: `make bench`.
bench: $(BUILD)/bench/kernels_bench $(BUILD)/bench/forward_bench

$(BUILD)/bench/%: bench/%.c $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libhearth.a $(LDLIBS)

clean:
	rm -rf $(BUILD)

.PHONY: all test bench clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
