"""The image build: builder/download_model.py against a local HF cache, and the Dockerfile's shape."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "builder" / "download_model.py"
DOCKERFILE = ROOT / "Dockerfile"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


# -- builder/download_model.py ---------------------------------------------------------------------


def fake_hub_repo(hf_home: Path, repo_id: str, files: dict[str, str]) -> Path:
    """A model in the Hugging Face cache layout: models--org--name/{refs/main, snapshots/<hash>/...}."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        (snapshot / name).write_text(content)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


def run_script(hf_home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items()
        if k not in {"MODEL_NAME", "MODEL_REVISION", "HF_TOKEN", "HF_HUB_CACHE", "HF_HUB_OFFLINE"}
    }
    clean.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", **env)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


TINY_MODEL = {"config.json": json.dumps({"model_type": "llama"}), "model.safetensors": "weights"}


def test_offline_finds_a_cached_model_and_prints_its_snapshot(tmp_path):
    snapshot = fake_hub_repo(tmp_path, "tiny-org/tiny-model", TINY_MODEL)
    result = run_script(tmp_path, "--model", "tiny-org/tiny-model")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(snapshot)


def test_model_and_revision_come_from_the_environment(tmp_path):
    snapshot = fake_hub_repo(tmp_path, "tiny-org/tiny-model", TINY_MODEL)
    result = run_script(tmp_path, MODEL_NAME="tiny-org/tiny-model", MODEL_REVISION=COMMIT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(snapshot)


def test_cache_dir_argument(tmp_path):
    snapshot = fake_hub_repo(tmp_path / "elsewhere", "tiny-org/tiny-model", TINY_MODEL)
    result = run_script(tmp_path, "--model", "tiny-org/tiny-model", "--cache-dir", str(snapshot.parents[2]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(snapshot)


def test_a_model_missing_from_the_cache_fails_and_names_it(tmp_path):
    fake_hub_repo(tmp_path, "tiny-org/tiny-model", TINY_MODEL)
    result = run_script(tmp_path, "--model", "tiny-org/not-there")
    assert result.returncode != 0
    assert "tiny-org/not-there" in result.stderr
    assert "HF_HUB_OFFLINE" in result.stderr
    assert result.stdout.strip() == ""


def test_a_snapshot_without_safetensors_weights_fails(tmp_path):
    fake_hub_repo(tmp_path, "tiny-org/bin-only", {"config.json": "{}", "pytorch_model.bin": "old"})
    result = run_script(tmp_path, "--model", "tiny-org/bin-only")
    assert result.returncode != 0
    assert "tiny-org/bin-only" in result.stderr and "safetensors" in result.stderr


def test_token_comes_from_env_else_the_build_secret(tmp_path, monkeypatch):
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import download_model
    finally:
        sys.path.remove(str(SCRIPT.parent))
    secret = tmp_path / "hf_token"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert download_model.read_token(secret) is None
    secret.write_text("hf_from_secret\n")
    assert download_model.read_token(secret) == "hf_from_secret"
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    assert download_model.read_token(secret) == "hf_from_env"


# -- Dockerfile --------------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            joined.append(current.strip())
        current = ""
    result = []
    for line in joined:
        name, _, args = line.partition(" ")
        result.append((name.upper(), args.strip()))
    return result


def args_of(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def dockerignore_patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_every_copy_source_exists_and_is_not_dockerignored():
    copies = args_of("COPY")
    assert copies, "the Dockerfile copies nothing"
    ignored = dockerignore_patterns()
    for args in copies:
        words = json.loads(args) if args.startswith("[") else shlex.split(args)
        words = [w for w in words if not w.startswith("--")]
        for source in words[:-1]:
            path = source.rstrip("/")
            assert (ROOT / path).exists(), f"COPY source {source} is missing"
            assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f"{source} is in .dockerignore"


def test_the_image_carries_the_worker():
    sources = " ".join(args_of("COPY"))
    for needed in ("handler.py", "enhancer", "test_input.json"):
        assert needed in sources


def test_cmd_starts_the_handler():
    cmds = args_of("CMD")
    assert cmds, "no CMD"
    assert json.loads(cmds[-1]) == ["python", "-u", "handler.py"]
    assert (ROOT / "handler.py").is_file()


def test_base_image_is_pinned_with_cuda_12_and_torch_2():
    froms = args_of("FROM")
    assert len(froms) >= 1
    image = froms[0].split()[0]
    name, _, tag = image.partition(":")
    assert tag and tag != "latest" and "latest" not in tag, image
    assert name in {"runpod/pytorch", "pytorch/pytorch"}, image
    assert re.search(r"cuda-?12\.", tag) or re.search(r"cu12\d", tag), image
    assert re.match(r"2\.\d+", tag) or "torch2" in tag, image


def test_runtime_is_offline_and_requirements_are_installed():
    envs = " ".join(args_of("ENV"))
    assert re.search(r"\bHF_HUB_OFFLINE=1\b", envs)
    assert re.search(r"\bTRANSFORMERS_OFFLINE=1\b", envs)
    runs = " ".join(args_of("RUN"))
    assert re.search(r"pip install [^&;]*--no-cache-dir[^&;]*-r builder/requirements\.txt", runs)
    assert args_of("WORKDIR") == ["/app"]


def test_the_model_is_baked_with_a_build_secret_before_going_offline():
    lines = instructions()
    download = next(i for i, (name, args) in enumerate(lines) if name == "RUN" and "download_model.py" in args)
    assert "--mount=type=secret,id=hf_token" in lines[download][1]
    assert "BAKE_MODEL" in lines[download][1]
    offline = next(i for i, (name, args) in enumerate(lines) if name == "ENV" and "HF_HUB_OFFLINE=1" in args)
    assert download < offline
    arg_names = {args.split("=")[0] for name, args in lines if name == "ARG"}
    assert {"MODEL_NAME", "MODEL_REVISION", "BAKE_MODEL"} <= arg_names


@pytest.mark.parametrize(
    "kept_out", [".venv", "tests", "bench", ".git", "__pycache__", ".hypothesis", "x.gguf", "examples", "node_modules"]
)
def test_dockerignore_keeps_out_local_files(kept_out):
    assert any(fnmatch.fnmatch(kept_out, p.removeprefix("**/")) for p in dockerignore_patterns())


def hadolint() -> str | None:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    return found


@pytest.mark.skipif(hadolint() is None, reason="hadolint is not installed (requirements-dev.txt: x86-64 Linux only)")
def test_hadolint_finds_nothing_in_the_dockerfile():
    done = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# -- RunPod Hub (.runpod/hub.json, .runpod/tests.json) --------------------------------------------------

HUB = ROOT / ".runpod" / "hub.json"
HUB_TESTS = ROOT / ".runpod" / "tests.json"


def test_hub_json_has_the_fields_the_hub_requires():
    hub = json.loads(HUB.read_text())
    assert hub["title"] and hub["description"]
    assert hub["type"] == "serverless"
    assert hub["category"] in {"audio", "embedding", "language", "video", "image"}
    config = hub["config"]
    assert config["runsOn"] == "GPU"
    assert isinstance(config["containerDiskInGb"], int) and config["containerDiskInGb"] >= 20
    assert config["gpuCount"] == 1
    assert config["gpuIds"]
    # The image's CUDA is 12.6: hosts must offer 12.6 or newer.
    assert all(tuple(map(int, v.split("."))) >= (12, 6) for v in config["allowedCudaVersions"])
    for name in ("handler.py", "Dockerfile", "README.md"):
        assert (ROOT / name).is_file() or (ROOT / ".runpod" / name).is_file(), name


def test_hub_env_inputs_are_settings_the_worker_reads():
    from enhancer.config import Settings

    config_source = (ROOT / "enhancer" / "config.py").read_text()
    hub = json.loads(HUB.read_text())["config"]
    keys = set()
    env = {}
    for entry in hub["env"]:
        key = entry["key"]
        keys.add(key)
        assert f'"{key}"' in config_source, f"{key} is not read by enhancer/config.py"
        spec = entry["input"]
        assert spec["name"] and spec["description"] and spec["type"] in {"string", "number", "boolean"}
        default = spec.get("default")
        if spec["type"] == "boolean":
            env[key] = spec["trueValue"] if default else spec["falseValue"]
        elif default not in (None, ""):
            env[key] = str(default)
    settings = Settings.from_env(env)  # the defaults parse
    assert settings.max_concurrency == 8 and settings.log_prompts is False
    for preset in hub.get("presets", []):
        assert set(preset["defaults"]) <= keys, preset["name"]
        Settings.from_env({k: str(v) for k, v in preset["defaults"].items()})


def test_hub_tests_are_valid_jobs():
    from enhancer.config import Settings
    from enhancer.schemas import parse_job_input

    spec = json.loads(HUB_TESTS.read_text())
    assert spec["tests"]
    for case in spec["tests"]:
        assert case["name"] and isinstance(case["timeout"], int) and case["timeout"] >= 10_000
        parse_job_input(case["input"], Settings())  # raises on a job the worker would refuse
    config = spec["config"]
    assert config["gpuTypeId"] and config["gpuCount"] == 1
    assert all(set(item) == {"key", "value"} and isinstance(item["value"], str) for item in config.get("env", []))
