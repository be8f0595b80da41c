"""Cold start: process start to first answer, and how much of it is model loading.

    python bench/coldstart.py

Three fresh processes, each importing handler.py (which loads the model) and answering one job:
with the conversion cache off (GGUF dequantized every start), with an empty conversion cache
(dequantize once and keep the result), and with that cache filled (load the kept safetensors).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from _common import ROOT

CHILD = r"""
import asyncio, json, sys, time
imported = time.perf_counter()
import handler
loaded = time.perf_counter()
answer = asyncio.run(handler.handler({"id": "cold", "input": {"prompt": "a red fox", "use_cache": False}}))
done = time.perf_counter()
print(json.dumps({"import_s": loaded - imported, "job_s": done - loaded,
                  "model_load_s": handler.service.generator.loaded.load_seconds,
                  "weights_from": handler.service.generator.loaded.weights_from,
                  "ok": answer.get("success")}))
"""


def cold_start(converted_dir: str) -> dict:
    env = {**os.environ, "CONVERTED_MODEL_DIR": converted_dir, "CACHE_DIR": tempfile.mkdtemp(),
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def main() -> None:
    kept = tempfile.mkdtemp(prefix="converted-")
    runs = [
        ("conversion cache off (GGUF every start)", cold_start("0")),
        ("first start, empty conversion cache", cold_start(kept)),
        ("later start, conversion cache filled", cold_start(kept)),
    ]
    print("# bench/coldstart.py: fresh process -> handler.py imported -> first answer (embedded model)")
    print("| start | weights from | process start to first answer (s) | model load (s) | share of it | first job (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in runs:
        print(f"| {name} | {r['weights_from']} | {r['wall_s']:.2f} | {r['model_load_s']:.2f} | "
              f"{r['model_load_s'] / r['wall_s']:.0%} | {r['job_s']:.2f} |")
    print(f"\ncold start with the filled conversion cache vs without it: "
          f"{runs[0][1]['wall_s'] / runs[2][1]['wall_s']:.1f}x faster")


if __name__ == "__main__":
    main()
