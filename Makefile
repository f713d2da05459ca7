# Thin wrapper over CMake and CTest, so that a fresh Debian 12 machine needs
# only `make demo` or `make check`. All real build logic is in CMakeLists.txt.
#
#   make build   install missing packages, build into build/
#   make demo    build, then run scripts/demo.sh
#   make check   lint; build/ (-Werror); build-asan/ (ASan+UBSan) and its tests;
#                build-fuzz/ (clang, libFuzzer) and the fuzz tests; then every
#                test of build/. Ends with one CTest-style summary line over all
#                three test runs. Stops at the first failure, non-zero exit.
#   make clean   remove the three build directories

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

JOBS ?= 2
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz

# cmake drives its own make; keep this make's flags and jobserver out of it.
CMAKE_BUILD = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build
CTEST = ctest --output-on-failure -j$(JOBS)

export ASAN_OPTIONS ?= detect_leaks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: build demo check deps lint configure test test-asan test-fuzz clean

deps:
	bash scripts/install-deps.sh

configure:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOTVAULT_WERROR=ON

build: deps
	$(MAKE) --no-print-directory configure
	$(CMAKE_BUILD) $(BUILD_DIR) -j$(JOBS)

demo: build
	bash scripts/demo.sh

lint:
	bash scripts/lint.sh "$(CURDIR)"

# The individual stages; `check` runs them in a fixed order. Each CTest run
# keeps its output in its build directory for the closing summary.
test:
	$(CTEST) --test-dir $(BUILD_DIR) 2>&1 | tee $(BUILD_DIR)/check-ctest.log

test-asan:
	cmake -S . -B $(ASAN_DIR) -DIOTVAULT_SANITIZE=ON -DIOTVAULT_WERROR=ON
	$(CMAKE_BUILD) $(ASAN_DIR) -j$(JOBS)
	$(CTEST) --test-dir $(ASAN_DIR) 2>&1 | tee $(ASAN_DIR)/check-ctest.log

# Only the fuzz targets (and the instrumented library) are built with clang.
test-fuzz:
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DIOTVAULT_FUZZ=ON -DIOTVAULT_WERROR=ON
	$(CMAKE_BUILD) $(FUZZ_DIR) -j$(JOBS) --target fuzz_targets
	$(CTEST) --test-dir $(FUZZ_DIR) -L fuzz 2>&1 | tee $(FUZZ_DIR)/check-ctest.log

# Builds build/ first so compile errors show early, runs its tests last so the
# output ends with them, then totals the three runs in CTest's own words.
check: deps
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory configure
	$(CMAKE_BUILD) $(BUILD_DIR) -j$(JOBS)
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-fuzz
	$(MAKE) --no-print-directory test
	@cat $(ASAN_DIR)/check-ctest.log $(FUZZ_DIR)/check-ctest.log $(BUILD_DIR)/check-ctest.log | \
	  awk '/tests passed, [0-9]+ tests? failed out of [0-9]+/ { \
	         for (i = 1; i <= NF; i++) if ($$i == "of") total += $$(i + 1); \
	         for (i = 1; i <= NF; i++) if ($$i == "failed") failed += $$(i - 2); runs++ } \
	       END { if (runs != 3 || total == 0) { print "check: a test run printed no summary" > "/dev/stderr"; exit 1 } \
	             printf "\ncheck: all test runs ($(BUILD_DIR), $(ASAN_DIR), $(FUZZ_DIR)):\n"; \
	             printf "%d%% tests passed, %d tests failed out of %d\n", \
	                    int(100 * (total - failed) / total), failed, total; \
	             exit failed != 0 }'

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
