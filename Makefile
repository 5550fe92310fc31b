# videospool — build, test, demo. Every target installs what it needs first (idempotently).
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PREFIX ?= /usr/local
DESTDIR ?=

# Debian packages the build and the tests need.
DEBIAN_PACKAGES := libsqlite3-dev python3 python3-pip
# The independent Standard Webhooks verifier the signature test runs.
PYTHON_PACKAGES := standardwebhooks==1.1.0
PYTHON_LIB := $(CURDIR)/.cache/python

.PHONY: all deps debian-packages python-packages build release test demo clean

all: build

deps: debian-packages python-packages

debian-packages:
	@missing=""; for package in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

python-packages:
	@PYTHONPATH=$(PYTHON_LIB) python3 -c 'import standardwebhooks' 2>/dev/null || { \
		echo "installing Python packages: $(PYTHON_PACKAGES) into $(PYTHON_LIB)"; \
		python3 -m pip install --quiet --disable-pip-version-check --target $(PYTHON_LIB) $(PYTHON_PACKAGES); }

build: debian-packages
	$(SWIFT) build

release: debian-packages
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	VIDEOSPOOL_PYTHONPATH=$(PYTHON_LIB) VIDEOSPOOL_BINARY=$(CURDIR)/.build/debug/videospool $(SWIFT) test --skip-build

demo: build
	./.build/debug/videospool demo

clean:
	rm -rf .build .cache
