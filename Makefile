# keel: a thin front end. `make test` is what CI runs.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

GO       ?= go
BIN      := $(CURDIR)/bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS  := -s -w -X github.com/keel-edge/keel/internal/version.Version=$(VERSION)
# Where `make run` keeps the single-node cluster's state.
RUN_DIR  ?= $(CURDIR)/.run
API_ADDR ?= 0.0.0.0:6443
# Debian packages the build needs (cgo for libcontainer's nsenter, static
# libseccomp for the default seccomp profile, busybox for the images), and
# those the test tiers need besides.
BUILD_DEBS := gcc libc6-dev libseccomp-dev busybox-static
TEST_DEBS  := $(BUILD_DEBS) openssh-server openssh-client containernetworking-plugins docker-registry iproute2 util-linux
# The compiler and headers of the eBPF programs in bpf/, pinned by Debian
# version so regenerating gives the committed objects byte for byte
# (linux/bpf.h comes from linux-libc-dev, which the build already has).
BPF_DEBS := clang-14=1:14.0.6-12 llvm-14=1:14.0.6-12 libbpf-dev=1:1.1.2-0+deb12u1
# The agent links libcontainer's nsenter (cgo) and libseccomp, statically.
AGENT_TAGS    := seccomp netgo osusergo
AGENT_LDFLAGS := $(LDFLAGS) -linkmode external -extldflags "-static"
TEST_TIMEOUT ?= 25m

.PHONY: build build-deps apt bpf-deps generate generate-check run test deps unit bench fuzz images clean

build: build-deps ## bin/agent and bin/agentctl, static
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(AGENT_TAGS)' -ldflags '$(AGENT_LDFLAGS)' -o $(BIN)/agent ./cmd/agent
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/agentctl ./cmd/agentctl

build-deps: ## Debian packages the build needs, when missing
	@$(MAKE) apt PKGS="$(BUILD_DEBS)"

apt:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bpf-deps: ## the pinned clang and libbpf headers of bpf/, when missing or another version
	@want=""; for p in $(BPF_DEBS); do \
		[ "$$(dpkg-query -W -f '$${Version}' "$${p%%=*}" 2>/dev/null)" = "$${p#*=}" ] || want="$$want $$p"; \
	done; \
	if [ -n "$$want" ]; then \
		echo "installing:$$want"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --allow-downgrades $$want; \
	fi

generate: bpf-deps ## compile the eBPF programs (bpf2go) into the committed .o and .go files
	$(GO) generate ./bpf/

generate-check: generate ## fail when the committed eBPF objects differ from their sources
	@git diff --exit-code --stat -- bpf/ || { echo "bpf/: generated files differ from the committed ones: run make generate and commit"; exit 1; }
	@if [ -n "$$(git status --porcelain --untracked-files=all -- bpf/)" ]; then git status --short -- bpf/; echo "bpf/: files left uncommitted"; exit 1; fi

run: build images ## a single-node cluster with the demo workload, in the foreground
	@mkdir -p $(RUN_DIR)/data/images/import
	@cp build/images/*.tar $(RUN_DIR)/data/images/import/
	@echo "data directory: $(RUN_DIR)/data"
	@echo "once it serves, in another shell:"
	@echo "  export KUBECONFIG=$(RUN_DIR)/data/admin.kubeconfig"
	@echo "  kubectl get pods -o wide; kubectl rollout status deployment/demo; $(BIN)/agentctl status"
	@( until [ -S /run/keel/agent.sock ] && $(BIN)/agentctl get ns default >/dev/null 2>&1; do sleep 0.5; done; \
	   $(BIN)/agentctl apply -f examples/demo.yaml ) &
	exec $(BIN)/agent run --single-node --data-dir $(RUN_DIR)/data --api-addr $(API_ADDR)

deps: ## install what the test tiers need (Debian packages, Go modules)
	@$(MAKE) apt PKGS="$(TEST_DEBS)"
	$(GO) mod download

test: deps generate-check build images ## every tier: unit, privileged, end to end
	KEEL_BIN_DIR=$(BIN) KEEL_IMAGES_DIR=$(CURDIR)/build/images $(GO) test -tags '$(AGENT_TAGS)' -count=1 -timeout $(TEST_TIMEOUT) ./...

unit: ## tier 1 only: no root, no network
	$(GO) test -count=1 -short ./...

bench: build images ## benchmarks that print the figures quoted in the README
	@$(MAKE) apt PKGS="iptables"
	KEEL_BIN_DIR=$(BIN) KEEL_IMAGES_DIR=$(CURDIR)/build/images $(GO) test -tags '$(AGENT_TAGS)' -run '^$$' -bench . -benchtime 2s ./coordinator/store/ ./runc/ ./tests/bench/
	$(GO) test -run '^$$' -bench 'ServiceLB$$' -benchtime 1x ./bpf/

FUZZTIME ?= 20s
fuzz: ## every fuzz target, FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

images: ## the test and demo images as OCI-layout tarballs in build/images
	$(GO) run ./cmd/mkimage -out $(CURDIR)/build/images

clean:
	rm -rf $(BIN) $(RUN_DIR)
