# Verifier Ladder. `make demo` runs the main job, `make test` the tests; both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU wheel of torch is installed first and pinned, so nothing pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0
# `make submit MANIFEST=submissions/my-verifier.yaml PROFILE=production`
MANIFEST ?=
PROFILE  ?= production
# `make up` on a GPU host; `make up COMPOSE_FILES="-f compose.yaml -f compose.cpu.yaml"` on a CPU host.
COMPOSE_FILES ?= -f compose.yaml
export COMPOSE_PROJECT_NAME ?= verifier-ladder

.PHONY: install stock-env test lint demo serve worker submit bench docker-build constraints up down test-stack clean

# The second test environment: the GPU image's torch 2.14 with torchvision (the stock Qwen VL processors build a
# video processor, which needs torchvision; torchvision does not import beside the CPU torch 2.13). Only torch and
# torchvision are installed in it (from this machine's disk); every other package, and the harness, come from the
# main environment, added after its own site-packages (a .pth line), so the two never disagree on anything else.
STOCK       := .venv-stock
STOCK_STAMP := $(STOCK)/.installed
STOCK_TORCH := torch==2.14.1 torchvision==0.29.1

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,lm-eval]' $(TORCH)
	touch $(STAMP)

# OMP_WAIT_POLICY=PASSIVE: torch's OpenMP threads sleep instead of spinning while they wait. On 2 cores, one other
# busy process (a test's background worker, the docker daemon) made spinning tiny-model generation 21x slower
# (2.76 s vs 0.13 s alone, bench/omp_contention.py); passive: 0.20 s beside it, 0.19 s alone.
test: $(STAMP) $(STOCK_STAMP)
	HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q -m "not stock" --durations=15
	HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE $(STOCK)/bin/python -m pytest -q -m stock

stock-env: $(STOCK_STAMP)

$(STOCK_STAMP): $(STAMP)
	test -x $(STOCK)/bin/python || $(PYTHON) -m venv $(STOCK)
	$(STOCK)/bin/pip install -q $(STOCK_TORCH)
	echo "import site; site.addsitedir('$(abspath $(shell $(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"))')" \
		> "$$($(STOCK)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/main-env.pth"
	$(STOCK)/bin/python -c "import torch, torchvision, harness; print('stock test environment: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STOCK_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check harness leaderboard tests bench
	$(BIN)/hadolint Dockerfile container/postgres/Dockerfile

# The whole protocol on the four demo verifiers, into the SQLite store; then `make serve`.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ladder demo

# The leaderboard over the store (SQLite under .ladder, or LADDER_DATABASE_URL).
serve: $(STAMP)
	$(BIN)/ladder serve

# Claim and run queued submissions until stopped (LADDER_EXECUTOR-style choice: --executor local|docker|ray).
worker: $(STAMP)
	$(BIN)/ladder worker

submit: $(STAMP)
	@test -n "$(MANIFEST)" || { echo "usage: make submit MANIFEST=path/to/verifier.yaml [PROFILE=demo]"; exit 2; }
	$(BIN)/ladder submit $(MANIFEST) --profile $(PROFILE)

# CPU benchmarks (figures in bench/README.md): the demo ladder end to end, the leaderboard under load (wrk + PG).
bench: $(STAMP)
	command -v wrk >/dev/null || apt-get install -y -q wrk
	HF_HUB_OFFLINE=1 $(BIN)/python bench/demo_ladder.py
	$(BIN)/python bench/web.py

# The CPU stack's images on a local Docker engine (started if needed; bases made with debootstrap, no registry).
docker-build:
	.ci/docker-up.sh

# The versions the CPU worker and web images install: this environment's, after `make test` passed in it.
constraints: $(STAMP)
	{ echo "# Versions the CPU worker and web images install: \`pip freeze\` of the environment CI tested ($$(date +%F)),"; \
	  echo "# minus torch (chosen per image by TORCH_SPEC). Regenerate with \`make constraints\` after dependency changes."; \
	  $(BIN)/pip freeze --exclude-editable | grep -viE "^(torch==|nvidia-|triton==|verifier-ladder|-e )"; } > container/constraints.txt

secrets/db_password:
	umask 077; mkdir -p secrets; $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(32))" > $@
	chmod 644 $@  # the containers' own users read it through the compose secret mount; secrets/ stays 0700

up: secrets/db_password
	docker-compose $(COMPOSE_FILES) up -d
	@echo "leaderboard: http://127.0.0.1:$${LADDER_WEB_PORT:-8000}/  (token: docker-compose $(COMPOSE_FILES) exec web ladder token create NAME)"

down:
	docker-compose $(COMPOSE_FILES) down

# The compose smoke test: build the CPU images, stand the stack up, submit through the API, tear it down.
test-stack: $(STAMP)
	.ci/docker-up.sh
	LADDER_TEST_STACK=1 $(BIN)/python -m pytest -q -s tests/test_stack.py

clean:
	rm -rf $(VENV) $(STOCK) .ladder .pytest_cache test-artifacts
