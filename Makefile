# signalbox — the two commands a new user needs are `make run` and `make test`.
JOBS    ?= $(shell nproc)
BUILD   ?= build
CMAKE_FLAGS ?=

.PHONY: all deps build release run test asan tsan bench image image-test compose-test format clean

all: build

deps:
	@./scripts/install-deps

# build/ (make test, make run): -O1 with line tables only. On 2 cores a fresh build took
# 12 min at RelWithDebInfo's -O2 -g; -O1 -g1 compiles about a quarter faster and still
# gives line numbers in backtraces. Benchmarks use build-release/ (make release, -O3).
$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

release: deps
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build-release -j $(JOBS) --target signalbox signalbox-mock

# Two local mock models and the gateway on config/signalbox.yaml; Ctrl-C stops all three.
# It shares $(BUILD) with `make test` (same build type, same objects) and builds only the
# two binaries it starts: after `make test` it compiles nothing, and a `make test` after it
# compiles only the tests. build-release/ (make release) is for the benchmarks only.
run: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target signalbox signalbox-mock
	@./scripts/run-demo $(BUILD)

test: build
	@cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 300

# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSIGNALBOX_SANITIZE=address >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j $(JOBS) --output-on-failure --timeout 600

# The whole test suite under ThreadSanitizer.
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIGNALBOX_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tsan.supp" ctest -j $(JOBS) --output-on-failure --timeout 900

bench: release
	@cmake --build build-release -j $(JOBS)
	@echo "micro-benchmarks: build-release/bench/; load benchmarks: bench/*.sh (see bench/README.md)"

# The gateway and mock container images (signalbox:dev, signalbox-mock:dev) with podman or
# docker; installs the container tools and makes a local base image if needed (slow:
# minutes; not part of make test).
image:
	@./scripts/image

# Builds the images, runs them (gateway -> mock), checks /livez, a completion, UID 10001,
# the read-only root and a clean SIGTERM drain. Not part of make test: it is slow.
image-test:
	@./tests/deploy/image_test.sh

# deploy/docker-compose.yml's gateway and mocks with podman-compose; one completion.
compose-test:
	@./tests/deploy/compose_test.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	@rm -rf build build-release build-asan build-tsan
