#!/usr/bin/env bash
# Screenshots of the persona natural pages, driven in headless Chromium (Debian's
# `chromium` package and the npm package playwright-core), into docs/screenshots/.
# Uses the embedded default with the test captcha answer, in a throw-away folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[[ -x /usr/bin/chromium ]] || { echo "error: install Debian's chromium (apt-get install chromium)" >&2; exit 1; }
PW=${PLAYWRIGHT_DIR:-/tmp/cus-playwright}
if [[ ! -d $PW/node_modules/playwright-core ]]; then
  mkdir -p "$PW" && (cd "$PW" && npm init -y >/dev/null && npm install -s playwright-core@1 >/dev/null)
fi
cargo build --locked --bin cus
WORK=$(mktemp -d /tmp/cus-shots.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$WORK"
CUS_CAPTCHA__TEST_ANSWER=prueba CUS_OUTBOX__POLL_SECONDS=1 CUS_LOG__LEVEL=warn \
  "$ROOT/target/debug/cus" serve --listen "127.0.0.1:$PORT" >cus.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
cp "$ROOT/scripts/screenshots/take.mjs" "$PW/take.mjs"
rm -f "$ROOT"/docs/screenshots/*.png
node "$PW/take.mjs" "http://127.0.0.1:$PORT" "$ROOT/docs/screenshots" "$WORK/data/outbox/sms" prueba
