# Two commands do all the set-up: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A .venv made by another Python version than $(PYTHON) (or a broken one) is rebuilt, not
# reused forever.
PY_VERSION := import sys; print(*sys.version_info[:2])
VENV_OK := $(shell [ "$$($(BIN)/python -c '$(PY_VERSION)' 2>/dev/null)" = "$$($(PYTHON) -c '$(PY_VERSION)' 2>/dev/null)" ] && echo yes)

.PHONY: run test lint typecheck bench clean check-python mutate

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; run make PYTHON=python3.11 ...")'
ifneq ($(VENV_OK),yes)
	@if [ -d $(VENV) ]; then echo "$(VENV) was made by another or a broken Python: rebuilding it"; rm -rf $(VENV); fi
endif

$(STAMP): pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: check-python $(STAMP)
	$(BIN)/python -m bot run

test: check-python $(STAMP)
	$(BIN)/ruff check bot tests bench migrations
	$(BIN)/ruff format --check bot tests bench migrations
	$(BIN)/mypy bot
	@$(BIN)/python -m pytest $(PYTEST_ARGS) || { status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests: the run fails (exit 5)" >&2; fi; \
		exit $$status; }

# The production benchmarks (bench/*.py, each documented in its docstring): SQLite always,
# PostgreSQL too when TEST_POSTGRES_URL is set. Each prints the core count and its figures.
bench: check-python $(STAMP)
	$(BIN)/python bench/production_intake.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/leaderboards.py
	$(BIN)/python bench/storage.py --answers 100000 --answers 200000

# Mutation testing of the scoring core (configured in pyproject.toml [tool.mutmut]); minutes,
# not part of `make test` or CI. Prints the score and names every surviving mutant.
# The scoring core: every mutant of the domain, service and evidence-support files, and of
# llm.py only the score and evidence checks (not request building, retries or client plumbing).
MUTATE_TARGETS = 'bot.domain.*' 'bot.services.*' 'bot.grading.evidence.*' 'bot.grading.support.*' \
	'bot.grading.llm.x__holding*' 'bot.grading.llm.x_is_item_list*' 'bot.grading.llm.x__overlap*' \
	'bot.grading.llm.xǁLLMGraderǁ_check*' 'bot.grading.llm.xǁLLMGraderǁ_judge_evidence*' \
	'bot.grading.llm.xǁLLMGraderǁ_factual_errors*' 'bot.grading.llm.xǁLLMGraderǁ_relatedness*' \
	'bot.grading.llm.xǁLLMGraderǁ_grade*'

mutate: check-python $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	rm -rf mutants
	env -u TEST_POSTGRES_URL $(BIN)/mutmut run --max-children 2 $(MUTATE_TARGETS)
	$(BIN)/mutmut results

typecheck: check-python $(STAMP)
	$(BIN)/mypy bot

lint: check-python $(STAMP)
	$(BIN)/ruff check --fix bot tests bench migrations
	$(BIN)/ruff format bot tests bench migrations

clean:
	rm -rf $(VENV)
