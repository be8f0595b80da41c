"""A real headless Chromium for tests, driven over the DevTools protocol (aiohttp's WebSocket
client: aiohttp comes with runpod, so nothing is added for it).

`scripts/setup.sh --dev` installs Debian's `chromium` where it can (as root); `CHROMIUM` names
another binary. Without one, the tests that need it skip, saying so.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

# Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--remote-debugging-port=0", "--hide-scrollbars")


def chromium_binary() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab of a Chromium started for it; `open` loads a file, `evaluate` runs JavaScript in
    it and returns the value, `screenshot` writes a PNG of the whole page."""

    def __init__(self, width: int = 1400, height: int = 900) -> None:
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("no Chromium: install Debian's chromium or set CHROMIUM")
        self._profile = tempfile.mkdtemp(prefix="chromium-")
        self._process = subprocess.Popen([binary, *_FLAGS, f"--user-data-dir={self._profile}",
                                          f"--window-size={width},{height}", "about:blank"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._events: list[dict[str, Any]] = []
        try:
            self._loop.run_until_complete(self._connect(self._port()))
        except BaseException:
            self.close()
            raise

    def _port(self, timeout: float = 30) -> int:
        # Chromium writes the port it chose to this file once DevTools listens.
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}")
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    async def _connect(self, port: int) -> None:
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t["type"] == "page")
        self._socket = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self._call("Page.enable")
        await self._call("Runtime.enable")

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        await self._socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads((await self._socket.receive(timeout=60)).data)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._events.append(message)

    async def _wait_for(self, event: str) -> None:
        while not any(e.get("method") == event for e in self._events):
            self._events.append(json.loads((await self._socket.receive(timeout=60)).data))

    def open(self, path: Path) -> None:
        async def navigate() -> None:
            self._events.clear()
            await self._call("Page.navigate", url=Path(path).resolve().as_uri())
            await self._wait_for("Page.loadEventFired")

        self._loop.run_until_complete(navigate())

    def evaluate(self, expression: str) -> Any:
        result = self._loop.run_until_complete(self._call("Runtime.evaluate", expression=expression,
                                                          returnByValue=True))
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        result = self._loop.run_until_complete(self._call("Page.captureScreenshot", format="png",
                                                          captureBeyondViewport=full_page))
        Path(path).write_bytes(base64.b64decode(result["data"]))

    def close(self) -> None:
        async def disconnect() -> None:
            if self._socket is not None:
                await self._socket.close()
            if self._session is not None:
                await self._session.close()

        self._loop.run_until_complete(disconnect())
        self._loop.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
