.PHONY: setup run test lint bench
setup:
	scripts/setup.sh
run:
	scripts/run.sh
test:
	scripts/test.sh
lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
bench: setup
	.venv/bin/python -m benchmarks.run
