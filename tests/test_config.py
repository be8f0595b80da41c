"""Settings come from the environment, with the design's defaults."""

import dataclasses
from pathlib import Path

import pytest

from enhancer.config import Settings


def test_defaults_match_the_design():
    settings = Settings.from_env({})
    assert settings.model_name == "Qwen/Qwen2.5-7B-Instruct"
    assert settings.model_path is None and settings.allow_model_download is False
    assert (settings.cache_size_limit_mb, settings.cache_ttl_seconds) == (1024, None)
    assert (settings.max_concurrency, settings.max_batch_size, settings.slot_tokens) == (8, 8, 1024)
    assert (settings.max_prompt_chars, settings.admin_token, settings.log_prompts) == (2000, None, False)
    assert settings.http_port == 7861


def test_environment_overrides():
    settings = Settings.from_env({
        "MODEL_PATH": "/models/q", "ALLOW_MODEL_DOWNLOAD": "1", "CACHE_DIR": "/tmp/c", "CACHE_TTL_SECONDS": "60",
        "MAX_CONCURRENCY": "3", "ADMIN_TOKEN": "s3cret", "LOG_PROMPTS": "true", "RUNPOD_POD_ID": "pod-1",
    })
    assert settings.model_path == "/models/q" and settings.allow_model_download is True
    assert settings.cache_dir == Path("/tmp/c") and settings.cache_ttl_seconds == 60
    assert settings.max_concurrency == 3 and settings.admin_token == "s3cret" and settings.log_prompts is True
    assert settings.worker_id == "pod-1"


def test_a_malformed_number_names_the_variable():
    with pytest.raises(ValueError, match="MAX_BATCH_SIZE"):
        Settings.from_env({"MAX_BATCH_SIZE": "eight"})


def test_the_micro_batchers_settings_are_noted_as_retired_and_change_nothing():
    settings = Settings.from_env({"GENERATION_ENGINE": "batch", "GENERATION_CACHE": "static", "BATCH_WAIT_MS": "5"})
    assert settings.retired == ("GENERATION_ENGINE", "GENERATION_CACHE", "BATCH_WAIT_MS")
    assert dataclasses.replace(settings, retired=()) == Settings.from_env({})
    assert Settings.from_env({}).retired == ()


def test_the_model_dtype_follows_the_device_unless_named():
    import torch

    from enhancer.model import model_dtype

    assert Settings.from_env({}).model_dtype == "auto"
    assert model_dtype("auto", cuda=True) == torch.bfloat16 and model_dtype("auto", cuda=False) == torch.float32
    named = Settings.from_env({"MODEL_DTYPE": "float16"}).model_dtype
    assert model_dtype(named, cuda=True) == torch.float16
    with pytest.raises(ValueError, match="MODEL_DTYPE"):
        Settings.from_env({"MODEL_DTYPE": "int4"})


def test_the_loop_stop_is_on_unless_turned_off():
    assert Settings.from_env({}).stop_loops
    assert not Settings.from_env({"STOP_LOOPS": "0"}).stop_loops
