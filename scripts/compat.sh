#!/usr/bin/env bash
# Runs the CLI-facing tests against one Claude Code CLI version: the runner contract suite, the
# end-to-end tests over HTTP that drive the agent (seed, structured output, fork, sub-agents),
# the process tests, and the library's examples. The CLI is installed into a
# scratch folder (the project's own node_modules is left alone).
#
# Usage: scripts/compat.sh VERSION      e.g. scripts/compat.sh 2.1.332, or `latest`
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/compat.sh VERSION}"
scratch="${COMPAT_DIR:-/tmp/overseer-compat}/$version"
mkdir -p "$scratch"
npm install --prefix "$scratch" --no-audit --no-fund --silent "@anthropic-ai/claude-code@$version"
export OVERSEER_CLAUDE_BIN="$scratch/node_modules/.bin/claude"
echo "--- Claude Code CLI $("$OVERSEER_CLAUDE_BIN" --version)"
# Under CI the agent tests fail rather than skip when the CLI cannot be found.
export CI=true
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
status=0
run() {
    echo "--- $*"
    if ! "$@"; then
        status=1
        echo "FAILED: $*"
    fi
}
run cargo test -q -p overseer-testkit --test runner_contract
run cargo test -q -p overseer-e2e --test e2e -- seed_http structured_output fork subagents
run cargo test -q -p overseer-app --test processes
run cargo test -q -p overseer --test examples --test embedded
exit "$status"
