#!/usr/bin/env bash
# `make test`: type check, lint, then every vitest suite (unit, HIL on simulators, real
# broker and database, pty serial, browser). Ends with one summary line
# "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
status=0
echo "== typecheck"; npx tsc -p tsconfig.json || status=1
echo "== lint"; npx biome check --diagnostic-level=error . || status=1
echo "== vitest"
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest.json "$@" || status=1
if [ -f .cache/vitest.json ]; then
  node -e '
    const r = require("./.cache/vitest.json");
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);'
fi
exit $status
