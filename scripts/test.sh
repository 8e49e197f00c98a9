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
    // a file that fails before its tests run counts as one failed test, so it is never hidden
    const brokenFiles = (r.testResults ?? []).filter((f) => f.status === "failed" && f.assertionResults.every((a) => a.status !== "failed")).length;
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${skipped} skipped`);'
fi
exit $status
