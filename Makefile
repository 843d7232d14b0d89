# distill-studio — the two set-up commands: `make run` and `make test`.
# Both create .venv when missing and install what is missing; torch is pinned and
# installed FIRST (an unpinned torch pulls a multi-GB CUDA build on these machines).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
# The bundle's builder, pinned: its hooks decide what the bundle carries.
PYINSTALLER := pyinstaller==6.22.3 pyinstaller-hooks-contrib==2026.9
# Debian packages: PortAudio for sounddevice; Xvfb/xdotool/ImageMagick for the real-window
# test; JACK (dummy backend) for a paced real audio stream without a sound card; Qt's xcb deps.
SYSTEM_PACKAGES := libportaudio2 xvfb xauth xdotool imagemagick jackd2 \
                   libegl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 \
                   libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-image0 \
                   libxcb-render-util0 libdbus-1-3 libfontconfig1 libgl1

.PHONY: run test lint system-deps bench demo clean bundle bundle-test screenshots kernels

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	touch $@

# The numba kernels compiled ahead of time into distill/audio/ (~12 s, only when missing or
# older than their sources): processes skip numba's import and first-call compile. Without
# a C compiler the build fails and the JIT runs them instead (slower to start, same values).
kernels: $(VENV)/.run-installed
	@$(BIN)/python packaging/build_kernels.py --if-stale >/dev/null || \
	  echo "warning: kernels not compiled ahead of time; numba's JIT will compile them at first use"

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-installed

# Installs missing Debian packages when we are root (CI and fresh machines); otherwise
# says what is missing and carries on (tests that need them skip with that reason).
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:" $$missing; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; \
	  else echo "missing system packages (install them for the full suite):" $$missing; fi; \
	fi

run: system-deps $(VENV)/.run-installed kernels
	$(BIN)/distill-studio

LINT_DIRS := $(wildcard distill app tests benchmarks packaging resources)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/lint-imports

test: system-deps $(VENV)/.dev-installed kernels lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/representation.py
	$(BIN)/python benchmarks/decode.py

# The frozen app (packaging/): dist/distill-studio/. Not part of `make test` (minutes of build).
bundle: system-deps $(VENV)/.run-installed
	$(BIN)/pip install -q $(PYINSTALLER)
	packaging/build.sh

bundle-test: $(VENV)/.run-installed
	$(BIN)/python packaging/smoke_test.py dist/distill-studio

# docs/screenshots/*.png for the README: the real studio under Xvfb, temporary user folders,
# its own JACK server (packaging/screenshots.py). About 2 minutes on 2 cores.
screenshots: system-deps $(VENV)/.run-installed
	xvfb-run -a -s "-screen 0 1400x900x24" $(BIN)/python packaging/screenshots.py docs/screenshots

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache distill/audio/_kernels_aot.*
