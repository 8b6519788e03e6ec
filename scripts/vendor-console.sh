#!/usr/bin/env bash
# Copies the web console's libraries from their npm packages (pinned in package.json) into
# crates/http/console/vendor, where the binary embeds them. With --check, fails when a copy
# differs from its package (CI runs that after `npm ci`).
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=crates/http/console/vendor
files=(
    "node_modules/marked/lib/marked.esm.js:$vendor/marked.esm.js"
    "node_modules/dompurify/dist/purify.es.mjs:$vendor/purify.es.mjs"
    "node_modules/@picocss/pico/css/pico.min.css:$vendor/pico.min.css"
)
status=0
for pair in "${files[@]}"; do
    from=${pair%%:*}
    to=${pair#*:}
    if [ "${1:-}" = --check ]; then
        cmp -s "$from" "$to" || { echo "error: $to differs from $from (run scripts/vendor-console.sh)" >&2; status=1; }
    else
        cp "$from" "$to"
    fi
done
exit $status
