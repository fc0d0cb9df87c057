# The two commands a reader needs: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup book pdf test test-fast mutation gpu-check chromium tex clean

# Dependencies are (re)installed only when pyproject.toml changes; the project itself is
# always re-linked (editable, no deps: seconds), so a cached venv follows the checkout.
$(DEPS_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.deps-* && touch $@

setup: $(DEPS_STAMP)
	$(BIN)/python -m pip install -q --no-deps -e .

# Headless Chromium for the site test (Debian package; root installs it, else say how).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "Install Chromium first: sudo apt-get install chromium" >&2; exit 1; fi; }

book: setup
	$(BIN)/python -m clipbook book $(if $(SEED_SETS),--seed-sets $(SEED_SETS))

# LaTeX for the PDF (Debian packages, about 190 MB; root installs them, else say how).
TEX_PACKAGES := texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk
tex:
	@command -v latexmk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q $(TEX_PACKAGES); \
	  else echo "Install LaTeX first: sudo apt-get install $(TEX_PACKAGES)" >&2; exit 1; fi; }

# The book as a PDF (_build/latex/why-clip-generalizes.pdf), beside the website.
pdf: setup tex
	$(BIN)/python -m clipbook book --pdf

test: setup chromium
	$(BIN)/python -m pytest

# Unit tests only (no chapter at its default profile, no site build).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Mutation testing of the code that decides what readers are told (tests/mutation.py says which;
# [tool.mutmut] in pyproject.toml, against which tests); slow, not part of `make test`. Each mutant
# mutmut times out on is re-run by a plain pytest process (many pass there), then it prints the
# score per module and each mutant that survived; `mutmut show NAME` shows one. One thread per
# test process (mutmut runs two): its timeouts are CPU-time limits, which threads spinning on
# shared cores would reach without the mutant being slow.
mutation: setup
	$(BIN)/python -m pip install -q -e '.[mutation]'
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python tests/mutation.py

# The CUDA / bf16 path where a GPU is at hand (one line and exit 0 elsewhere).
gpu-check: setup
	$(BIN)/python -m clipbook gpu-check

clean:
	rm -rf _build book/chapters/*.ipynb book/chapters/*.failed.ipynb results
