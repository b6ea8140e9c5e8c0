# Conveniences over the scripts; the README's two commands need nothing but Python and bash.
.PHONY: install run test lint bench bench-gateway samples

install:
	./scripts/setup-venv train,serve,dev,litellm

run:
	./scripts/run

test:
	./scripts/test

lint: install
	.venv/bin/ruff check classifier training serving data integrations tests
	.venv/bin/mypy classifier serving integrations

bench: install
	.venv/bin/python scripts/bench.py --bundle models/default

bench-gateway: install
	.venv/bin/python scripts/bench_gateway.py --bundle models/default --out docs/integrations-benchmark.json

samples: install
	.venv/bin/python -m data.samples
	.venv/bin/python -m data.jsonschema
