# selfheal: build, run and test with plain go (promu reads .promu.yml for
# release builds; both set the same version ldflags).

SHELL     := /bin/bash
GO        ?= go
PREFIX    ?= $(CURDIR)
VERSION   := $(shell cat VERSION)
REVISION  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILDDATE := $(shell date -u +%Y%m%d-%H:%M:%S)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
             -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildUser=$(USER)@$(shell hostname) \
             -X $(VPKG).BuildDate=$(BUILDDATE)
BINARIES  := selfheal_exporter selfheal_receiver selfhealctl
FUZZTIME  ?= 8s
# Debian packages the tests start for real.
DEB_PKGS  := redis-server redis-sentinel haproxy stunnel4 prometheus prometheus-alertmanager docker.io busybox-static supervisor chromium systemd systemd-container debootstrap openssh-server ca-certificates curl
DEB_BINS  := redis-server redis-sentinel haproxy stunnel4 promtool amtool dockerd busybox supervisord chromium systemd-analyze systemd-nspawn debootstrap sshd curl
BENCH_PKGS := prometheus-blackbox-exporter prometheus-pushgateway wrk

.PHONY: release docker screenshots e2e demo systemd-root all build run test deps bench-deps deps-budget file-size lint vet fmt-check fuzz unit bench clean generate generate-check mixin-lint crossbuild

all: build

build:
	@for b in $(BINARIES); do \
		echo ">> building $$b"; \
		CGO_ENABLED=0 $(GO) build -tags netgo -ldflags '$(LDFLAGS)' -o $(PREFIX)/$$b ./cmd/$$b || exit 1; \
	done

# run starts the exporter and the receiver on the example configs with the
# embedded store: the exporter probes its own listener and the receiver's
# rules are dry runs, so nothing else needs to run. Ctrl-C stops both.
# Other addresses: make run EXPORTER_ADDR=127.0.0.1:19874 RECEIVER_ADDR=127.0.0.1:19875
# (the example's static checks still probe 127.0.0.1:9874).
EXPORTER_ADDR ?= 127.0.0.1:9874
RECEIVER_ADDR ?= 127.0.0.1:9875
run: build
	@echo ">> exporter on http://$(EXPORTER_ADDR)/, receiver on http://$(RECEIVER_ADDR)/ (Ctrl-C stops both)"
	@echo ">> status pages: http://$(EXPORTER_ADDR)/status and http://$(RECEIVER_ADDR)/journal; CLI: ./selfhealctl --exporter.url http://$(EXPORTER_ADDR) agents, ./selfhealctl --receiver.url http://$(RECEIVER_ADDR) actions"
	@./selfheal_receiver --config.file examples/selfheal_receiver.yml --web.listen-address $(RECEIVER_ADDR) --storage.path data/selfheal_receiver.db & r=$$!; \
	./selfheal_exporter --config.file examples/selfheal_exporter.yml --web.listen-address $(EXPORTER_ADDR) --storage.path data/selfheal_exporter.db & e=$$!; \
	trap 'kill -INT $$r $$e 2>/dev/null; wait $$r $$e; exit 0' INT TERM; \
	wait $$r $$e

# deps installs the programs the tests run, when any is missing.
deps:
	@missing=0; for b in $(DEB_BINS); do \
		command -v $$b >/dev/null 2>&1 || [ -x /usr/sbin/$$b ] || [ -x /usr/bin/$$b ] || missing=1; \
	done; \
	if [ $$missing = 1 ]; then \
		echo ">> installing $(DEB_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null; \
	fi

bench-deps: deps
	@command -v prometheus-blackbox-exporter >/dev/null 2>&1 && command -v prometheus-pushgateway >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BENCH_PKGS) >/dev/null; }

test: deps lint crossbuild generate-check mixin-lint unit fuzz e2e

# crossbuild checks that operators can build on their laptops: the Linux-only
# process handling sits behind build tags with a portable fallback.
CROSS_PLATFORMS := darwin/arm64 windows/amd64
crossbuild:
	@for p in $(CROSS_PLATFORMS); do \
		echo ">> go build ./... for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -tags netgo ./... || exit 1; \
	done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# lint runs golangci-lint (.golangci.yml: govet, staticcheck, errcheck,
# revive, misspell, ineffassign, unused, errorlint, unconvert) at the
# version go.mod's tool directive pins, e2e tests included, and holds the
# binaries to their package budgets.
lint: fmt-check vet deps-budget file-size
	$(GO) tool golangci-lint run ./...

# file-size fails on a non-test Go file over 400 lines.
file-size:
	@git ls-files '*.go' | grep -v '_test\.go$$' | xargs wc -l | \
		awk '$$2 != "total" && $$1 > 400 { print $$2 ": " $$1 " lines, more than 400"; bad = 1 } END { exit bad }'

# deps-budget fails when the receiver links more than 360 packages, any
# binary links go-openapi, or selfhealctl links bbolt or go-redis.
deps-budget:
	GO=$(GO) scripts/deps-budget.sh

JSONNET_FILES = $(shell find mixins -name '*.libsonnet' -o -name '*.jsonnet')

# generate writes rules/*.yml and the dashboards from the mixin.
generate:
	scripts/generate-mixin.sh rules mixins/selfheal/dashboards_out

# generate-check fails when the checked-in files differ from a fresh generation.
generate-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	scripts/generate-mixin.sh $$tmp/rules $$tmp/dashboards && \
	diff -u rules/alerts.yml $$tmp/rules/alerts.yml && diff -u rules/rules.yml $$tmp/rules/rules.yml && \
	diff -ru mixins/selfheal/dashboards_out $$tmp/dashboards || \
	{ echo "generated files are stale: run make generate"; exit 1; }

mixin-lint:
	$(GO) tool jsonnetfmt --test $(JSONNET_FILES)
	promtool check rules rules/alerts.yml rules/rules.yml
	promtool test rules rules/tests/*.yml
	promtool check rules examples/local_rules/*.yml
	promtool test rules examples/local_rules/tests/*.yml
	amtool check-config examples/alertmanager.yml
	promtool check config examples/prometheus.yml
	@# The shipped routing: healable alerts to the receiver only, the rest and escalations to the pager.
	amtool config routes test --config.file=examples/alertmanager.yml --verify.receivers=selfheal alertname=KeyServiceInstanceDown instance=10.0.0.3:8888 >/dev/null
	amtool config routes test --config.file=examples/alertmanager.yml --verify.receivers=pager alertname=KeyServiceInstanceDown selfheal=escalated >/dev/null
	amtool config routes test --config.file=examples/alertmanager.yml --verify.receivers=chat alertname=KeyServiceInstanceDown selfheal=approval instance=10.0.0.3:8888 >/dev/null
	amtool config routes test --config.file=examples/alertmanager.yml --verify.receivers=pager alertname=RedisUnreachable >/dev/null
	amtool config routes test --config.file=examples/alertmanager.yml --verify.receivers=ticket alertname=SelfhealRemediationFailed rule=restart-ic-server severity=warning >/dev/null

unit: systemd-root
	$(GO) test -race -count=1 ./...

# systemd-root builds, once per machine, the Debian tree the tests boot a
# real systemd in (systemd-nspawn, see internal/testutil.StartSystemd).
systemd-root: deps
	@scripts/systemd-root.sh $(CURDIR)/.build/systemd-root

# Every parser of outside input gets a short fuzz run: configuration files,
# webhook bodies, heartbeat bodies, label values rendered into URLs.
FUZZ_TARGETS := collector:FuzzParseConfig heartbeat:FuzzReadHeartbeat receiver/config:FuzzParseConfig receiver:FuzzDecodeMessage receiver/action:FuzzRenderURL internal/supervisor:FuzzDecodeResponse internal/docker:FuzzDemux internal/store/boltstore:FuzzCheckPassesCleanFiles internal/serve:FuzzWithoutUsers receiver/action/systemd:FuzzParseShow

# e2e runs the whole loop on real Prometheus, Alertmanager, Redis and HAProxy
# (see e2e/) and prints, per scenario, the seconds from fault to action and
# from fault to resolution.
e2e: deps systemd-root
	$(GO) test -tags e2e -count=1 -timeout 25m -v ./e2e/ 2>&1 | tee .e2e.log | grep -E '^(e2e |--- |ok|FAIL|panic)|_test.go'; \
	test $${PIPESTATUS[0]} -eq 0

# demo starts the whole loop with a small simulated fleet, injects faults and
# narrates the healing; Ctrl-C stops everything. The test binary runs in the
# foreground so that Ctrl-C reaches it and it tears the fleet down.
demo: deps
	@mkdir -p .build && $(GO) test -c -tags e2e -o .build/e2e.test ./e2e/
	@cd e2e && SELFHEAL_DEMO=1 ../.build/e2e.test -test.run '^TestDemo$$' -test.timeout 0

# screenshots renews docs/status.png and docs/journal.png: the browser tests
# of the status pages, run on real binaries in headless Chromium.
screenshots: deps
	SELFHEAL_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run 'InABrowser' ./statuspage/

fuzz:
	@scripts/fuzz.sh $(GO) $(FUZZTIME) $(FUZZ_TARGETS)

bench: bench-deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/...

# release builds static binaries for every platform of .promu.yml's
# crossbuild and packs them as promu does (tarball.files: the licence, the
# README, the examples, the rules examples/prometheus.yml refers to and the
# mixin they come from),
# with sha256sums.txt.
RELEASE_DIR ?= .build/release
PLATFORMS   ?= $(shell sed -n '/^crossbuild:/,$$p' .promu.yml | sed -n 's/^ *- *\([a-z0-9]*\/[a-z0-9]*\)$$/\1/p')
RELEASE_FILES := LICENSE NOTICE README.md examples rules mixins
release:
	@rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		name=selfheal-$(VERSION).$$os-$$arch; dir=$(RELEASE_DIR)/$$name; \
		echo ">> $$name"; mkdir -p $$dir; \
		for b in $(BINARIES); do \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -tags netgo -ldflags '$(LDFLAGS)' -o $$dir/$$b$$ext ./cmd/$$b || exit 1; \
		done; \
		cp -r $(RELEASE_FILES) $$dir/ && \
		tar -C $(RELEASE_DIR) -czf $(RELEASE_DIR)/$$name.tar.gz $$name && rm -rf $$dir || exit 1; \
	done
	@cd $(RELEASE_DIR) && sha256sum *.tar.gz > sha256sums.txt && cat sha256sums.txt

# docker builds one image per binary with the local Docker engine (DOCKER,
# e.g. "docker -H unix:///run/other.sock"), offline: FROM scratch, with what
# the binaries need staged here (CA certificates, a passwd entry, the
# example configuration, an empty store directory owned by the user).
DOCKER      ?= docker
DOCKER_REPO ?= selfheal
DOCKER_DIR  ?= .build/docker
docker:
	@for b in selfheal_exporter selfheal_receiver; do \
		ctx=$(DOCKER_DIR)/$$b; rm -rf $$ctx; mkdir -p $$ctx/bin $$ctx/etc/ssl/certs $$ctx/etc/selfheal $$ctx/var/lib/selfheal; \
		for c in $$b selfhealctl; do \
			CGO_ENABLED=0 $(GO) build -tags netgo -ldflags '$(LDFLAGS)' -o $$ctx/bin/$$c ./cmd/$$c || exit 1; \
		done; \
		cp /etc/ssl/certs/ca-certificates.crt $$ctx/etc/ssl/certs/ && \
		printf 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/var/lib/selfheal:/sbin/nologin\n' > $$ctx/etc/passwd && \
		printf 'root:x:0:\nnobody:x:65534:\n' > $$ctx/etc/group && \
		cp examples/$$b.yml $$ctx/etc/selfheal/ && cp Dockerfile.$$b $$ctx/Dockerfile && \
		echo ">> image $(DOCKER_REPO)/$$b:$(VERSION)" && \
		DOCKER_BUILDKIT=0 $(DOCKER) build -q --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
			-t $(DOCKER_REPO)/$$b:$(VERSION) -t $(DOCKER_REPO)/$$b:latest $$ctx >/dev/null || exit 1; \
	done

clean:
	rm -f $(BINARIES)
