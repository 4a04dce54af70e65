# vpconnect: build, test, demo, bench. `make help` lists the targets.
GO        ?= go
BIN       := bin
PKG       := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X vpconnect/agent.Version=$(VERSION)
# The Windows exe is a GUI-subsystem program: no console window at login
# (cmd/vpconnect/console_windows.go attaches to a terminal's console).
WINGUI    := -H windowsgui

.PHONY: help build test test-go test-race test-wine deps lint cross demo demo-once bench clean msi deb

help:
	@echo "make demo    run the agent against the built-in simulated services"
	@echo "make test    install test dependencies (as root), lint, run every test, cross-build"
	@echo "make build   build bin/vpconnect"
	@echo "make bench   Go benchmarks and the end-to-end initial-sync run with its figures"
	@echo "make lint    gofmt + go vet"
	@echo "make cross   build for windows/amd64 and darwin (no cgo)"
	@echo "make deb     the Debian package, dist/vpconnect_VERSION_amd64.deb"
	@echo "make msi     the Windows installer, dist/vpconnect.msi (wixl; signed when SIGN_CERT/SIGN_KEY or SIGN_PFX are set)"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/vpconnect ./cmd/vpconnect

demo:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/vpconnect demo

demo-once:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/vpconnect demo --once

# deps installs the Debian packages the tests need when run as root, and checks
# that every tool is there (in CI a missing tool fails the run).
deps:
	@bash .ci/deps

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKG)

test: deps lint test-go test-race cross test-wine

# test-go runs every test; the keychain tests need a session bus with an
# unlocked Secret Service, so the whole run happens inside one.
test-go:
	VPCONNECT_TEST_SECRET_SERVICE=1 bash .ci/with-keyring $(GO) test -count=1 -timeout 30m $(PKG)

# test-race runs every test under the race detector, the agent's state tests
# (cli) included. Instrumenting the Graph SDK costs about two
# minutes of compilation once; the build cache keeps it after that.
test-race:
	$(GO) test -race -count=1 -timeout 30m $(PKG)

# test-wine runs the Windows build under Wine in a private prefix
# (.ci/wine-suite, about a minute and a half): the GUI-subsystem exe (and
# its output in a terminal's console), a demo batch, the tray menu under
# Xvfb (screenshot in testdata/artifacts), activation against the
# simulators into Credential Manager, run --headless
# syncing a batch and stopped by WM_CLOSE and by a sign-out, deactivate,
# idle detection, the loopback API's owner check, the policy read from
# the registry (and the policy tests of the command line), and the MSI's
# install/upgrade/uninstall cycle.
test-wine:
	bash .ci/wine-suite

# cross builds every package with Go files for Windows, and for macOS every
# package but the tray (fyne.io/systray needs cgo, hence a Mac, there), and
# vets them (tests included) for both.
LISTGO := $(GO) list -f '{{if .GoFiles}}{{.ImportPath}}{{end}}' $(PKG)
cross:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null $$(GOOS=windows $(LISTGO))
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/vpconnect
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null $$(GOOS=darwin CGO_ENABLED=0 $(LISTGO) | grep -v '/tray$$')
	@# vet compiles the tests too, so a test that only builds on Linux is caught here.
	GOOS=windows GOARCH=amd64 $(GO) vet $(PKG)
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet $$(GOOS=darwin CGO_ENABLED=0 $(GO) list $(PKG) | grep -v '/tray$$')

# bench runs the Go benchmarks once each, then the end-to-end initial sync
# of docs/behaviour.md §7 at 10,000 and 100,000 messages (peak memory must grow by at
# most 1.5x between them) and prints the figures.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x $(PKG)
	$(GO) build -o $(BIN)/vpbench ./cmd/vpbench
	$(BIN)/vpbench -messages 10000
	$(BIN)/vpbench -messages 100000
	@# the running agent (docs/behaviour.md §7): start, idle, tracked/tagged/edited → Vantagepoint; about 5 minutes
	$(BIN)/vpbench -agent

# msi cross-builds vpconnect.exe and packages it with wixl (docs/behaviour.md §9, see
# installer/windows/build-msi.sh and docs/deployment.md). With SIGN_CERT and
# SIGN_KEY (or SIGN_PFX) both are Authenticode-signed with osslsigncode.
msi:
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS) $(WINGUI)" -o dist/windows/vpconnect.exe ./cmd/vpconnect
	bash installer/windows/build-msi.sh dist/windows/vpconnect.exe "$(VERSION)" dist/vpconnect.msi

# deb builds the Debian package (dpkg-deb; see installer/linux/build-deb.sh).
deb: build
	bash installer/linux/build-deb.sh $(BIN)/vpconnect "$(VERSION)" dist/vpconnect_amd64.deb

clean:
	rm -rf $(BIN)
