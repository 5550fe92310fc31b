# videospool — build, test, demo. Every target installs what it needs first (idempotently).
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SYSTEMD_DIR := $(PREFIX)/lib/systemd
SYSUSERS_DIR := $(PREFIX)/lib/sysusers.d
TMPFILES_DIR := $(PREFIX)/lib/tmpfiles.d
CONFIG_DIR := /etc/videospool
MAN_DIR := $(PREFIX)/share/man/man8
BASH_COMPLETION_DIR := $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR := $(PREFIX)/share/zsh/site-functions
FISH_COMPLETION_DIR := $(PREFIX)/share/fish/vendor_completions.d

# Debian packages the build and the tests need: SQLite and libsystemd headers, Python for the
# independent signature check, debootstrap and systemd-nspawn for the test under a real systemd,
# and PostgreSQL's server (postgresql → postgresql-15: initdb, pg_ctl) and client tools
# (postgresql-client → postgresql-client-15: createdb, psql) for the shared store's tests, which
# start a throwaway cluster of their own. promtool (Debian: prometheus) checks the example alerting
# rules and the /metrics scrape; curl scrapes it over the unix socket.
DEBIAN_PACKAGES := libsqlite3-dev libsystemd-dev python3 python3-pip debootstrap systemd-container \
	postgresql postgresql-client prometheus curl
# Independent checkers the tests run: the Standard Webhooks verifier (signatures), jsonschema
# (etc/videospool/request.schema.json against the bad-input corpus), botocore (SigV4 signatures of
# the S3 client), moto's server (an S3 stand-in that checks those signatures) and prometheus_client
# (its text-format parser reads the daemon's /metrics).
BOTOCORE_VERSION := 1.44.8
PYTHON_PACKAGES := standardwebhooks==1.1.0 jsonschema==4.26.0 botocore==$(BOTOCORE_VERSION) boto3==$(BOTOCORE_VERSION) \
	'moto[server]==5.2.5' prometheus_client==0.26.0
PYTHON_LIB := $(CURDIR)/.cache/python
# AWS's SigV4 test vectors, from botocore's source distribution (its wheel leaves tests out).
AWS4_TESTSUITE := $(CURDIR)/.cache/aws4_testsuite

.PHONY: all deps debian-packages python-packages build release install test test-swift test-systemd bench demo models clean \
	failover-test

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
	@PYTHONPATH=$(PYTHON_LIB) python3 -c 'import sys, standardwebhooks, jsonschema, boto3, botocore, moto.server, prometheus_client; \
		sys.exit(botocore.__version__ != "$(BOTOCORE_VERSION)")' 2>/dev/null || { \
		echo "installing Python packages: $(PYTHON_PACKAGES) into $(PYTHON_LIB)"; \
		python3 -m pip install --quiet --disable-pip-version-check --upgrade --target $(PYTHON_LIB) $(PYTHON_PACKAGES); }
	@test -f $(AWS4_TESTSUITE)/get-vanilla/get-vanilla.req || { \
		echo "unpacking AWS's SigV4 test suite from botocore $(BOTOCORE_VERSION)'s source distribution into $(AWS4_TESTSUITE)"; \
		rm -rf $(CURDIR)/.cache/sdist $(AWS4_TESTSUITE) && \
		python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
			--dest $(CURDIR)/.cache/sdist botocore==$(BOTOCORE_VERSION) && \
		mkdir -p $(AWS4_TESTSUITE) && \
		tar -xzf $(CURDIR)/.cache/sdist/botocore-$(BOTOCORE_VERSION).tar.gz -C $(AWS4_TESTSUITE) --strip-components=5 \
			botocore-$(BOTOCORE_VERSION)/tests/unit/auth/aws4_testsuite && \
		rm -rf $(CURDIR)/.cache/sdist; }

build: debian-packages
	$(SWIFT) build

# The Swift runtime is linked statically, so the binary runs on a Debian 12 host without a Swift
# toolchain (it needs libsqlite3-0 and libsystemd0, which every Debian system has).
release: debian-packages
	$(SWIFT) build -c release --static-swift-stdlib --product videospool

install: release
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_DIR)/system $(DESTDIR)$(SYSTEMD_DIR)/catalog \
		$(DESTDIR)$(SYSUSERS_DIR) $(DESTDIR)$(TMPFILES_DIR) $(DESTDIR)$(CONFIG_DIR)
	@# Stripped: the symbol tables are half of a statically linked binary (185 MB → 89 MB).
	install -s -m 0755 .build/release/videospool $(DESTDIR)$(BINDIR)/videospool
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/videospool.service.in > .build/videospool.service
	install -m 0644 .build/videospool.service $(DESTDIR)$(SYSTEMD_DIR)/system/videospool.service
	install -m 0644 systemd/videospool.catalog $(DESTDIR)$(SYSTEMD_DIR)/catalog/videospool.catalog
	install -m 0644 systemd/videospool.sysusers $(DESTDIR)$(SYSUSERS_DIR)/videospool.conf
	install -m 0644 systemd/videospool.tmpfiles $(DESTDIR)$(TMPFILES_DIR)/videospool.conf
	@# An existing configuration is never overwritten.
	test -e $(DESTDIR)$(CONFIG_DIR)/videospool.yaml || \
		install -m 0644 etc/videospool/videospool.yaml $(DESTDIR)$(CONFIG_DIR)/videospool.yaml
	@# Documentation for people and editors: the man page, the request schema, shell completions.
	install -d $(DESTDIR)$(MAN_DIR) $(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(ZSH_COMPLETION_DIR) \
		$(DESTDIR)$(FISH_COMPLETION_DIR)
	install -m 0644 man/videospool.8 $(DESTDIR)$(MAN_DIR)/videospool.8
	install -m 0644 etc/videospool/request.schema.json $(DESTDIR)$(CONFIG_DIR)/request.schema.json
	install -d $(DESTDIR)$(CONFIG_DIR)/schemas $(DESTDIR)$(CONFIG_DIR)/models.d
	install -m 0644 etc/videospool/schemas/*.schema.json $(DESTDIR)$(CONFIG_DIR)/schemas/
	.build/release/videospool --generate-completion-script bash > .build/videospool.bash
	.build/release/videospool --generate-completion-script zsh > .build/_videospool
	.build/release/videospool --generate-completion-script fish > .build/videospool.fish
	install -m 0644 .build/videospool.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/videospool
	install -m 0644 .build/_videospool $(DESTDIR)$(ZSH_COMPLETION_DIR)/_videospool
	install -m 0644 .build/videospool.fish $(DESTDIR)$(FISH_COMPLETION_DIR)/videospool.fish

test: test-swift test-systemd

# The unit targets run fully in parallel; the tests that start daemons, simulators and PostgreSQL
# clusters (VideoSpoolAppTests, VideoSpoolPostgresTests) run at most APP_TEST_WIDTH at a time, so
# that on a small machine their waits for events are not starved of CPU by each other.
APP_TEST_WIDTH ?= 3
TEST_ENV := VIDEOSPOOL_PYTHONPATH=$(PYTHON_LIB) VIDEOSPOOL_AWS4_TESTSUITE=$(AWS4_TESTSUITE) \
	VIDEOSPOOL_BINARY=$(CURDIR)/.build/debug/videospool
test-swift: deps
	$(SWIFT) build --build-tests
	$(TEST_ENV) $(SWIFT) test --skip-build --skip 'VideoSpoolAppTests|VideoSpoolPostgresTests'
	$(TEST_ENV) SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(APP_TEST_WIDTH) \
		$(SWIFT) test --skip-build --filter 'VideoSpoolAppTests|VideoSpoolPostgresTests'

# Boots a Debian 12 container with systemd and runs the installed daemon under it. A machine that
# cannot fails; VIDEOSPOOL_SKIP_SYSTEMD_TEST=1 skips it on purpose (without building the release).
test-systemd: deps
	@if [ "$${VIDEOSPOOL_SKIP_SYSTEMD_TEST:-0}" != 1 ]; then $(MAKE) --no-print-directory release; fi
	Tests/systemd/test-under-systemd.sh

# The release daemon against the simulator on loopback: burst, steady, waiting, idle, the poll
# schedule comparison, video downloads (32 x 200 MiB, to disk and to /dev/shm) and a store with a
# million finished jobs (history: about 2 GB in the temporary directory). Prints a table and writes
# bench-results.json. About eight minutes plus the build.
bench: release
	$(SWIFT) build -c release --static-swift-stdlib --product videospool-bench
	./.build/release/videospool-bench --daemon .build/release/videospool --output bench-results.json

# Hosts killed, frozen and partitioned (see docs/several-hosts.md#failover-test): two daemons in network
# namespaces on one throwaway PostgreSQL and the simulator. Root only; not part of `make test`.
# RUNS=N runs of each scenario (default 5); VIDEOSPOOL=path tests another binary (then nothing is built).
# iptables partitions a host from the database, faketime moves one host's clock.
FAILOVER_DEBIAN_PACKAGES := iproute2 iptables faketime postgresql postgresql-client python3
RUNS ?= 5
VIDEOSPOOL ?= .build/release/videospool
failover-test:
	@$(MAKE) --no-print-directory debian-packages DEBIAN_PACKAGES="$(FAILOVER_DEBIAN_PACKAGES)"
	@if [ "$(VIDEOSPOOL)" = .build/release/videospool ]; then $(MAKE) --no-print-directory release; fi
	cd Tests/failover && python3 -m unittest -q test_recorder test_judging
	python3 Tests/failover/failover.py --binary $(VIDEOSPOOL) --runs $(RUNS) $(if $(SCENARIO),--scenario $(SCENARIO))

demo: build
	./.build/debug/videospool demo

# After editing models/*.json: embeds them in the binary (a generated Swift file) and regenerates
# the editors' JSON Schemas in etc/videospool/. ModelFilesTests fails until this has been run.
models:
	python3 scripts/embed-builtin-models.py
	$(SWIFT) build --product videospool
	./.build/debug/videospool models schema --built-in --output etc/videospool

clean:
	rm -rf .build .cache
