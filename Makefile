# Handset: the project's public commands. Each does its own set-up (scripts/setup.sh).
.PHONY: setup run test bench typecheck lint format clean

setup:
	@bash scripts/setup.sh

run: setup
	@node host-sdk/bin/handset.js run

test: setup
	@bash scripts/test.sh

bench: setup
	@npx tsx bench/run.ts

typecheck: setup
	@npx tsc -p tsconfig.json

lint:
	@npx biome check .

format:
	@npx biome check --write .

clean:
	rm -rf node_modules */node_modules */dist .cache
