# The commands: `make run`, `make test` and `make example`. Everything else is CMake and scripts/
BUILD ?= build
SAN ?= 0
JOBS ?= 2

.PHONY: all deps configure build run test example fuzz bench clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

# Every target: the binary, the tests, the load tools.
build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Builds only the binary, and quietly: the compiler's output shows only when the build fails, so
# what follows the packages deps installs is sett's own log.
run: configure
	@log=$$(mktemp) && { cmake --build $(BUILD) -j$(JOBS) --target sett >$$log 2>&1 || \
	  { cat $$log >&2; rm -f $$log; exit 1; }; } && rm -f $$log
	@$(BUILD)/sett run conf/sett.lua

test:
	@SAN=$(SAN) scripts/test.sh

# The RivetKit chat example (examples/rivetkit-chat/README.md): sett, the app and its page, with
# the page's URL printed; Ctrl-C stops them. The build shows its output only when it fails.
example: configure
	@cmake --build $(BUILD) -j$(JOBS) --target sett >/dev/null 2>&1 || cmake --build $(BUILD) -j$(JOBS) --target sett
	@SETT_BIN=$(abspath $(BUILD))/sett examples/rivetkit-chat/run.sh

fuzz:
	@scripts/deps.sh --test
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSETT_FUZZ=ON -DSETT_FUZZ_SECONDS=$${FUZZ_SECONDS:-120} >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@cd build-fuzz && ctest --output-on-failure

# Benchmarks against a direct connection and nginx (docs/benchmarks.md); QUICK=1 for a subset.
bench:
	@scripts/deps.sh --bench
	@QUICK=$(QUICK) scripts/bench.sh

clean:
	rm -rf build build-san build-fuzz
