# hearth — plain Makefile. `make` builds build/hearth and build/libhearth.a; `make test` runs every test.
CC      ?= cc
CFLAGS  ?= -O2 -g
# `override` keeps the required flags when CFLAGS is given on the command line (e.g. sanitizer builds)
override CFLAGS += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc -pthread -MMD -MP
LDLIBS  += -lm -pthread -ljansson
CLI_LDLIBS := -ledit
# the router front end (router/): upstream calls, route files, request/response JSON
ROUTER_LDLIBS := -lcurl -lyaml -ljansson

BUILD   := build
LIB_SRC := $(wildcard src/*.c) $(wildcard src/*/*.c)
CLI_SRC := $(wildcard cli/*.c)
ROUTER_SRC := $(wildcard router/*.c)
SRV_SRC := $(wildcard server/*.c)
TEST_SRC:= $(wildcard tests/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
ROUTER_OBJ := $(ROUTER_SRC:%.c=$(BUILD)/%.o)
SRV_OBJ := $(SRV_SRC:%.c=$(BUILD)/%.o)
# only the hearth binary (the server) needs these
SRV_LIBS:= -lmicrohttpd -ljansson
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

all: $(BUILD)/hearth $(TESTS)

$(BUILD)/libhearth.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/librouter.a: $(ROUTER_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/hearth: $(CLI_OBJ) $(SRV_OBJ) $(BUILD)/librouter.a $(BUILD)/libhearth.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(SRV_OBJ) $(BUILD)/librouter.a $(BUILD)/libhearth.a $(LDLIBS) $(CLI_LDLIBS) $(SRV_LIBS) -lcurl -lyaml

# the router's tests link the router front end as well
ROUTER_TESTS := $(filter $(BUILD)/tests/test_guard $(BUILD)/tests/test_router%,$(TESTS))
$(ROUTER_TESTS): $(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/librouter.a $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/librouter.a $(BUILD)/libhearth.a $(LDLIBS) $(ROUTER_LDLIBS)

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

# benchmarks, built on demand: `make bench` (see each file's header for how to run it)
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
bench: $(BENCHES)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libhearth.a $(LDLIBS)

clean:
	rm -rf $(BUILD)

.PHONY: all test clean bench
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SRV_OBJ:.o=.d) $(ROUTER_OBJ:.o=.d)
