# Vigil. The two commands a new user needs:
#   make demo   build, start mosquitto + simulator + gateway on loopback, print URL and login
#   make test   install test dependencies, build, run every test (unit and end to end)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: demo test fuzz build release static deb check-samples clean

demo:
	scripts/demo.sh

test:
	scripts/install-deps.sh test
	scripts/check-conversions.sh
	node --check Sources/VigilConsole/Assets/logic.js
	node --check Sources/VigilConsole/Assets/console.js
	node --test Tests/console/
	$(SWIFT) build --build-tests
	./.build/debug/vigil check-config --quiet samples/*.yaml
	$(SWIFT) test

# The seeded fuzz tests with a longer budget (make test runs them with 2000 iterations each).
# FUZZ_SEED=n replays or varies a run; every run prints its seed.
FUZZ_ITERATIONS ?= 200000
FUZZ_SEED ?= $(shell date +%s)
fuzz:
	scripts/install-deps.sh test
	$(SWIFT) build --build-tests
	VIGIL_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) VIGIL_FUZZ_SEED=$(FUZZ_SEED) $(SWIFT) test --skip-build --filter Fuzz

build:
	scripts/install-deps.sh build
	$(SWIFT) build

release:
	scripts/install-deps.sh build
	$(SWIFT) build -c release --product vigil

# A self-contained binary for deploy/ (Swift runtime linked in): dist/vigil-<version>-linux-<arch>
static:
	scripts/install-deps.sh build
	deploy/build-release.sh

# The Debian package of that binary: dist/vigil_<version>-1_<arch>.deb (docs/operations.md)
deb: static
	deploy/build-deb.sh

check-samples: build
	./.build/debug/vigil check-config samples/*.yaml

clean:
	rm -rf .build .build-static .build-release .demo dist
