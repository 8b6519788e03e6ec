# Thin wrappers; each recipe is one command you can also run by hand.

# Run the server (SQLite in ./data, 127.0.0.1:8080 unless configured).
run:
    npm ci && cargo run --release -- serve

# The whole test suite (Postgres from TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI runs.
ci:
    .ci/run

# The full API fuzz suite (schemathesis, ≥ 5,000 test cases; CI runs a short variant).
# Needs `.venv-fuzz` (see .ci/run).
fuzz:
    OVERSEER_FUZZ_EXAMPLES=150 OVERSEER_FUZZ_MIN_CASES=5000 cargo test -p overseer-app --test processes fuzz -- --nocapture

# End-to-end tests only.
e2e:
    cargo test -p overseer-e2e

# Benchmarks against the bare CLI (release build; needs `npm ci` and Postgres at TEST_DATABASE_URL).
# Rewrites the scenarios' sections of docs/benchmarks.md. `just bench e2e` runs one scenario.
bench *scenarios:
    cargo build --release -p overseer-app -p overseer-bench -p overseer-testkit
    target/release/overseer-bench {{scenarios}}

# The CLI-facing tests against one Claude Code CLI version (installed into a scratch folder):
# `just compat 2.1.332`, `just compat latest`. Results go into docs/compatibility.md by hand.
compat version:
    scripts/compat.sh {{version}}
