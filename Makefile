# Verifier Ladder. `make demo` runs the main job, `make test` the tests; both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU wheel of torch is installed first and pinned, so nothing pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: install test lint demo serve docker-build clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]' $(TORCH)
	touch $(STAMP)

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check harness leaderboard tests bench

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ladder demo

# The leaderboard over the store `make demo` filled (or LADDER_DATABASE_URL).
serve: $(STAMP)
	$(BIN)/ladder serve

# The CPU worker image on a local Docker engine (started if needed; the base image is made with debootstrap).
docker-build:
	.ci/docker-up.sh

clean:
	rm -rf $(VENV) .ladder .pytest_cache
