# Conveniences over the scripts; the README's two commands need nothing but Python and bash.
.PHONY: install run test lint bench samples

install:
	./scripts/setup-venv train,serve,dev,litellm

run:
	./scripts/run

test:
	./scripts/test

lint: install
	.venv/bin/ruff check classifier training serving data integrations tests
	.venv/bin/mypy classifier serving

bench: install
	.venv/bin/python scripts/bench.py --bundle models/default

samples: install
	.venv/bin/python -m data.samples
	.venv/bin/python -m data.jsonschema
