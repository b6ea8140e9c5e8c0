# Conveniences over the scripts; the README's two commands need nothing but Python and bash.
.PHONY: install run test lint bench bench-gateway samples reliability

install:
	./scripts/setup-venv train,serve,dev,litellm,ray,spark

run:
	./scripts/run

test:
	./scripts/test

lint: install
	./scripts/lint

bench: install
	.venv/bin/python scripts/bench.py --bundle models/default

bench-gateway: install
	.venv/bin/python scripts/bench_gateway.py --bundle models/default --out docs/integrations-benchmark.json

samples: install
	.venv/bin/python -m data.samples
	.venv/bin/python -m data.jsonschema

# The long reliability run (about 20 minutes: fuzzing, malformed requests, a 10-minute soak, reload
# faults under load) against a real server on models/default; figures in docs/reliability.md.
# The short version is tests/reliability (a slow test, part of ./scripts/test).
reliability: install
	HF_HUB_OFFLINE=1 .venv/bin/python -m reliability --bundle models/default --soak-minutes 10 \
		--out reliability-run
