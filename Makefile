# The two commands: `make run` and `make test`. Everything else is CMake and scripts/.
BUILD ?= build
SAN ?= 0
JOBS ?= 2

.PHONY: all deps build run test fuzz bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/sett run conf/sett.lua

test:
	@SAN=$(SAN) scripts/test.sh

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSETT_FUZZ=ON -DSETT_FUZZ_SECONDS=$${FUZZ_SECONDS:-120} >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@cd build-fuzz && ctest --output-on-failure

# Benchmarks against a direct connection and nginx (docs/benchmarks.md); QUICK=1 for a subset.
bench: deps
	@QUICK=$(QUICK) scripts/bench.sh

clean:
	rm -rf build build-san build-fuzz
