# hearth — plain Makefile. `make` builds build/hearth and build/libhearth.a; `make test` runs every test.
CC      ?= cc
CFLAGS  ?= -O2 -g
# `override` keeps the required flags when CFLAGS is given on the command line (e.g. sanitizer builds)
override CFLAGS += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc -pthread -MMD -MP
LDLIBS  += -ljansson -lm -pthread

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
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
