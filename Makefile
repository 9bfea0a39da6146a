# Vigil. The two commands a new user needs:
#   make demo   build, start mosquitto + simulator + gateway on loopback, print URL and login
#   make test   install test dependencies, build, run every test (unit and end to end)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: demo test build release static check-samples clean

demo:
	scripts/demo.sh

test:
	scripts/install-deps.sh test
	$(SWIFT) build --build-tests
	./.build/debug/vigil check-config --quiet samples/*.yaml
	$(SWIFT) test

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

check-samples: build
	./.build/debug/vigil check-config samples/*.yaml

clean:
	rm -rf .build .build-static .demo dist
