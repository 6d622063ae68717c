# gyosei-rag: two commands do all the set-up (see README).
#   make run   - venv, install, Streamlit UI on 127.0.0.1:8501 at once; model and data_samples index in the background
#   make test  - venv with dev extras, Debian packages the tests need, the whole pytest suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8501
# Debian packages the tests use: LibreOffice converts .doc files and makes test PDFs; chromium,
# its driver and a Japanese font for the real-browser UI test (screenshots must show Japanese);
# PostgreSQL's server binaries for the audit log's PostgreSQL test (a throw-away server).
TEST_DEBS := libreoffice-writer-nogui chromium chromium-driver fonts-ipafont postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# llama-cpp-python (LLM integration tests) builds from source. A native build picks up AMX on
# some Xeons and crashes on the first token, and pip's wheel cache ignores CMAKE_ARGS: so its
# wheel is built once, portably, into our own cache, and installed from there.
LLAMA_VERSION := 0.3.36
WHEELS := $(HOME)/.cache/gyosei-rag/wheels
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF

.PHONY: run test test-fast install install-dev system-deps index bench eval eval-fusion clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "Building llama-cpp-python $(LLAMA_VERSION) once (several minutes)…"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-deps --no-cache-dir -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION); }
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e '.[dev]'
	touch $@ $(VENV)/.stamp-run

install: $(VENV)/.stamp-run
install-dev: $(VENV)/.stamp-dev

system-deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

index: install
	$(BIN)/gyosei setup
	$(BIN)/gyosei ingest data_samples --sync
	$(BIN)/gyosei user demo

# The UI comes up at once; the model build and data_samples' indexing run behind it (progress on
# every page and in this terminal). A second run finds everything indexed and is up in seconds.
run: install
	$(BIN)/gyosei user demo
	$(BIN)/gyosei serve --host $(HOST) --port $(PORT) --ingest data_samples

test: install-dev system-deps
	$(BIN)/pytest

# The inner loop: everything but the tests that load the real model or a browser.
test-fast: install-dev
	$(BIN)/pytest -m "not slow and not browser"

# The fusion measurements of eval/README.md on the three dev sets (indexes built once into var/eval/).
eval-fusion: install-dev
	$(BIN)/python -m eval.fusion_variants

bench: install-dev
	$(BIN)/python bench/ingest_speed.py

clean:
	rm -rf var .pytest_cache

# make eval: the whole evaluation suite on the dev sets (eval/datasets) -> eval/reports/.
# Indexes and embeddings are cached in var/eval/ (the first run embeds every corpus: about an
# hour on 2 cores; later runs ~15 min). Interrupted runs resume; fixed seeds, same numbers.
EVAL_SETS := nta_faq diet_qa lawqa
EVAL_NLI := jnli jsick janli
EVAL_LIMIT ?= 30
EVAL_OUT ?= eval/reports
.PHONY: eval
eval: install
	@set -e; start=$$(date +%s); \
	for s in $(EVAL_SETS); do $(BIN)/gyosei eval retrieval --dataset eval/datasets/$$s --out $(EVAL_OUT); done; \
	for s in $(EVAL_SETS); do $(BIN)/gyosei eval answers --dataset eval/datasets/$$s --limit $(EVAL_LIMIT) --out $(EVAL_OUT); done; \
	for f in $(EVAL_NLI); do $(BIN)/gyosei eval nli --dataset retrieval/data/nli/$$f.jsonl --judge classifier --held-out --out $(EVAL_OUT); done; \
	$(BIN)/gyosei eval nli --dataset altered --judge classifier --out $(EVAL_OUT); \
	$(BIN)/gyosei eval nli --dataset altered --judge rules --out $(EVAL_OUT); \
	echo "make eval: $$(( $$(date +%s) - start )) s, reports in $(EVAL_OUT)/"
