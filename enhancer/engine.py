"""Continuous batching: a request joins the running decode at the next step and leaves when it ends.

One thread owns the model. Between two decode steps it admits the requests that arrived (each is
prefilled alone, on top of its system prompt's keys and values, which are computed once per distinct
system prompt and kept), then runs one step for every active row together. A row that reaches
end-of-sequence or its own budget leaves at once, so rows of different budgets share steps and a
short request never waits for a long one.

The rows live in the slot cache (slots.py): a joining row's prompt is copied into the next free slot,
each step writes every row at its own position, and a leaving row's slot is filled by the last row,
so the running rows are always slots 0..n-1. The step itself and the choice of tokens are decode.py's:
on a GPU a CUDA graph per batch bucket, captured and checked against the eager step at start-up.
The choice of the next token is that of `generate`; a seeded row samples from its own random
generator, so its output does not depend on what else runs beside it.

On a GPU the host does not wait for a step before launching the next: the chosen tokens feed the
next step on the device, and the host reads them one step late, so a finished row runs one step more
and that token is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .decode import Decoder, Sampler, buckets_for
from .prefill import Prefiller
from .model import (
    DeviceLost,
    GenerationFailed,
    GenerationRequest,
    LoadedModel,
    _free_accelerator_memory,
    _is_device_lost,
    _is_oom,
)
from .stopping import is_looping

log = logging.getLogger(__name__)

_STOP = object()
# What the start-up self-check decodes, eagerly and through the graphs: rows of growing budgets, so
# the batch shrinks through every bucket as they end.
SELF_CHECK_IDEAS = ("a red fox in a snowy forest", "a lighthouse in a storm at night", "two cats on a stage",
                    "a train crossing a bridge")


@dataclass(eq=False)
class _Row:
    request: GenerationRequest
    deliver: Callable[[Any], None]  # called once, from the engine thread, with text or an exception
    cancelled: Callable[[], bool]
    prompt: list[int] | None = None
    prefix_length: int = 0  # leading tokens shared with other requests of the same system prompt
    generated: list[int] = field(default_factory=list)  # as read back from the device
    sampler: Any = None  # a seeded row's decode.Sampler
    failures: int = 0  # out-of-memory failures while running alone
    done: bool = False  # answered or abandoned: a token still in flight for it is dropped

    def restart(self) -> None:
        self.generated, self.sampler = [], None

    @property
    def length(self) -> int:
        """Key columns the row has written, at most (one more may be in flight)."""
        return len(self.prompt) + len(self.generated)


class _Launched:
    """The tokens of a step already launched, on their way to the host."""

    def __init__(self, rows: list[_Row], tokens) -> None:
        import torch

        self.rows, self.event = rows, None
        if tokens.is_cuda:
            self.host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
            self.host.copy_(tokens, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.host = tokens

    def tokens(self) -> list[int]:
        if self.event is not None:
            self.event.synchronize()
        return self.host.tolist()


def settle(future: asyncio.Future, result: Any) -> None:
    """Complete a waiting request with its text, or with the exception that is its result."""
    if future.done():  # cancelled by its caller
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class ContinuousGenerator:
    """The model behind a step-level scheduler."""

    def __init__(self, loaded: LoadedModel, max_batch_size: int = 8, prefix_cache_entries: int = 16,
                 stop_loops: bool = True, slot_tokens: int = 1024) -> None:
        self.loaded = loaded
        self.stop_loops = stop_loops
        self.max_batch_size = max(1, max_batch_size)
        self.rows_run = 0  # requests answered by the model
        self.steps_run = 0  # decode steps
        self.shared_steps = 0  # decode steps that served more than one request
        self.loops_stopped = 0  # rows ended early because they were repeating themselves
        self.warmup_seconds: float | None = None
        self.graphs: dict[str, Any] = {"on": False, "buckets": [], "capture_seconds": None,
                                       "reason": "no CUDA device" if loaded.model.device.type != "cuda"
                                       else "not captured yet"}
        self.decoder = Decoder(loaded.model, self.max_batch_size, slot_tokens)
        # Reading a step's tokens one step late keeps a GPU busy; a CPU computes while the host waits.
        self.overlap = loaded.model.device.type == "cuda"
        self.prefiller = Prefiller(loaded, prefix_cache_entries)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting: deque[_Row] = deque()
        self._limit = self.max_batch_size  # lowered after an out-of-memory step, restored when idle
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._clear_batch()

    # -- interface ----------------------------------------------------------------------------

    @property
    def prefix_hits(self) -> int:
        return self.prefiller.hits

    @property
    def model_id(self) -> str:
        return self.loaded.source.model_id

    @property
    def tokenizer(self):
        return self.loaded.tokenizer

    @property
    def slot_tokens(self) -> int:
        return self.decoder.cache.capacity

    async def generate(self, request: GenerationRequest) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def deliver(result: Any) -> None:
            try:
                loop.call_soon_threadsafe(settle, future, result)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting
                pass

        self._submit(_Row(request, deliver, future.cancelled))
        return await future

    def generate_batch(self, requests: list[GenerationRequest]) -> list[str | BaseException]:
        """Blocking: the results of requests submitted together, in order (errors as values)."""
        results: list[Any] = [None] * len(requests)
        done = threading.Semaphore(0)

        def deliverer(index: int) -> Callable[[Any], None]:
            def deliver(result: Any) -> None:
                results[index] = result
                done.release()

            return deliver

        for index, request in enumerate(requests):
            self._submit(_Row(request, deliverer(index), lambda: False))
        for _ in requests:
            done.acquire()
        return results

    def warm_up(self, system_prompts: list[str]) -> float:
        """Prefill these system prompts now, so that no request pays for them, and on a GPU capture
        the decode graphs; the seconds it took. Call it before the first request. Nothing is compiled."""
        import torch

        started = time.perf_counter()
        with torch.inference_mode():
            for system in dict.fromkeys(system_prompts):
                self.prefiller.keep(system)
        if self.loaded.model.device.type == "cuda":
            self.enable_graphs(self.decoder.capture, system_prompts[0] if system_prompts else "")
        self.warmup_seconds = time.perf_counter() - started
        return self.warmup_seconds

    def enable_graphs(self, capture: Callable[[list[int]], float], system_prompt: str = "") -> dict:
        """Capture the decode graphs with `capture(buckets) -> seconds`, then check that they decode
        what the eager step decodes; on a failure or a difference they stay off, and `graphs` says why."""
        import torch

        buckets = buckets_for(self.max_batch_size)
        self.graphs = {"on": False, "buckets": buckets, "capture_seconds": None, "reason": None}
        try:
            with torch.inference_mode():
                self.graphs["capture_seconds"] = round(capture(buckets), 3)
            difference = self._self_check(system_prompt)
        except Exception as exc:
            difference = f"capture failed: {type(exc).__name__}: {exc}"
        if difference is None:
            self.graphs["on"] = True
        else:
            self.decoder.use_graphs = False
            self.graphs["reason"] = difference
            log.warning("decode graphs off: %s", difference)
        return self.graphs

    def _self_check(self, system_prompt: str) -> str | None:
        """None when the graphs decode the eager step's tokens, else what differed. The engine's
        counters are left as they were: these rows are not requests."""
        counters = {name: getattr(self, name) for name in ("rows_run", "steps_run", "shared_steps", "loops_stopped")}
        hits = self.prefiller.hits
        rows = [GenerationRequest((("system", system_prompt), ("user", SELF_CHECK_IDEAS[i % len(SELF_CHECK_IDEAS)])),
                                  8 * (i + 1)) for i in range(self.max_batch_size)]
        self.decoder.use_graphs = False
        eager = self.generate_batch(rows)
        self.decoder.use_graphs = True
        graphed = self.generate_batch(rows)
        for name, value in counters.items():
            setattr(self, name, value)
        self.prefiller.hits = hits
        for index, (expected, got) in enumerate(zip(eager, graphed)):
            if isinstance(expected, BaseException) or isinstance(got, BaseException):
                return f"self-check failed: {expected if isinstance(expected, BaseException) else got!r}"
            if expected != got:
                return (f"self-check: row {index} of {len(rows)} decoded {got[:60]!r} through the graphs, "
                        f"{expected[:60]!r} eagerly")
        return None

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the engine thread and wait for it (at most `timeout` seconds): a process that exits
        while the thread is inside a torch call can abort ("terminate called without an active
        exception")."""
        with self._lock:
            self._stopping = True
            self._inbox.put(_STOP)
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the loop -----------------------------------------------------------------------------

    def _submit(self, row: _Row) -> None:
        with self._lock:
            if self._stopping:
                row.deliver(GenerationFailed("the generator is shut down"))
                return
            self._inbox.put(row)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="generate", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        import torch

        with torch.inference_mode():
            while True:
                idle = not self._rows and not self._waiting and self._in_flight is None
                if idle:
                    self._limit = self.max_batch_size
                    self.decoder.idle()
                if not self._collect(block=idle):
                    break
                self._admit()
                if self._rows:
                    self._step()
                elif self._in_flight is not None:
                    self._read(self._take_in_flight())
        for row in [*self._rows, *self._waiting]:
            row.deliver(GenerationFailed("the generator is shut down"))
        self._clear_batch()

    def _collect(self, block: bool) -> bool:
        """Move what arrived into the waiting line; False when asked to stop."""
        item = self._inbox.get() if block else None
        while True:
            if item is _STOP:
                return False
            if item is not None:
                self._waiting.append(item)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return True

    def _admit(self) -> None:
        while self._waiting and len(self._rows) < self._limit:
            row = self._waiting.popleft()
            if row.cancelled():
                continue
            try:
                prefilled, logits = self._prefill(row)
                self._join(row, prefilled, logits)
            except Exception as exc:
                # A prefill runs one row: only running out of memory beside other rows is shared.
                self._recover([row], exc, alone=not self._rows or not _is_oom(exc))
                return

    def _step(self) -> None:
        rows = list(self._rows)
        decoder = self.decoder
        try:
            logits = decoder.step(len(rows), max(row.length for row in rows))
            tokens = decoder.choose(logits, decoder.seen[: len(rows)], [row.sampler for row in rows])
            decoder.advance(tokens)
            launched = _Launched(rows, tokens)
        except Exception as exc:
            self._abandon_batch(exc)
            return
        self.steps_run += 1
        self.shared_steps += len(rows) > 1
        if self.overlap:
            launched, self._in_flight = self._in_flight, launched
        if launched is not None:
            self._read(launched)

    def _read(self, launched: _Launched) -> None:
        """The tokens of a launched step to their rows; rows that ended leave."""
        try:
            tokens = launched.tokens()
        except Exception as exc:  # an asynchronous CUDA error surfaces here
            self._abandon_batch(exc)
            return
        eos, leaving = self._eos(), []
        for row, token in zip(launched.rows, tokens):
            if row.done:  # ended at the step before: this token ran one step late
                continue
            row.generated.append(token)
            if row.cancelled() or self._finished(row, eos):
                leaving.append(row)
        for row in leaving:
            self._finish(row)
        self._retire(leaving)

    def _take_in_flight(self) -> _Launched:
        launched, self._in_flight = self._in_flight, None
        return launched

    def _abandon_batch(self, exc: Exception) -> None:
        """A step failed: its slots may be half written, so every running row starts again."""
        running = list(self._rows)
        self._clear_batch()
        self._recover(running, exc, alone=len(running) == 1)

    def _prefill(self, row: _Row):
        if row.prompt is None:
            row.prompt, row.prefix_length = self.prefiller.encode(row.request.messages)
        return self.prefiller.prefill(row.prompt, row.prefix_length)

    # -- the batch ----------------------------------------------------------------------------

    def _eos(self) -> set[int]:
        eos = self.loaded.model.generation_config.eos_token_id
        if eos is None:
            return set()
        return {eos} if isinstance(eos, int) else set(eos)

    def _finished(self, row: _Row, eos: set[int] | None = None) -> bool:
        eos = self._eos() if eos is None else eos
        return (row.generated[-1] in eos or len(row.generated) >= row.request.max_new_tokens
                or (self.stop_loops and is_looping(row.generated)))

    def _finish(self, row: _Row) -> None:
        row.done = True
        if row.cancelled():
            return
        self.rows_run += 1
        self.loops_stopped += self.stop_loops and row.generated[-1] not in self._eos() and is_looping(row.generated)
        row.deliver(self.loaded.tokenizer.decode(row.generated, skip_special_tokens=True))

    def _clear_batch(self) -> None:
        self._rows: list[_Row] = []  # row i is in slot i
        self._in_flight: _Launched | None = None  # a step launched and not read yet
        self.decoder.cache.reset()

    def _join(self, row: _Row, prefilled: list, logits) -> None:
        """Choose the row's first token; unless that ends it, the row takes the next free slot."""
        row.sampler = Sampler.for_request(row.request, logits.device)
        token, seen = self.decoder.first_token(logits, row.prompt, row.sampler)
        row.generated.append(token)
        if self._finished(row):
            self._finish(row)
            return
        self.decoder.join(len(self._rows), prefilled, len(row.prompt), token, seen,
                          reserve=len(row.prompt) + row.request.max_new_tokens)
        self._rows.append(row)

    def _retire(self, leaving: list[_Row]) -> None:
        """Free the slots of rows that left; the last row moves into each, so rows stay in 0..n-1."""
        capacity = self.decoder.cache.capacity
        for row in leaving:
            index, last = self._rows.index(row), len(self._rows) - 1
            if index != last:
                moved = self._rows[last]
                self.decoder.move(last, index, min(moved.length, capacity))
                self._rows[index] = moved
            else:
                self.decoder.cache.free(last)
            self._rows.pop()

    # -- failures -----------------------------------------------------------------------------

    def _recover(self, rows: list[_Row], exc: Exception, alone: bool) -> None:
        """Device lost: everything fails. Out of memory or another error in a shared step: the rows
        go back to the front of the line and run in halves. Alone: an out-of-memory row gets one
        retry; another error fails that row only."""
        if _is_device_lost(exc) and not _is_oom(exc):
            lost = [*rows, *self._rows, *self._waiting]
            self._clear_batch()
            self._waiting.clear()
            for row in lost:
                row.done = True
                row.deliver(DeviceLost(str(exc)))
            return
        oom = _is_oom(exc)
        if oom:
            log.warning("out of memory with %d rows running: freeing memory and running fewer",
                        len(rows) + len(self._rows))
            _free_accelerator_memory()
        if alone and len(rows) == 1:
            row = rows[0]
            row.failures += 1
            if oom and row.failures < 2:
                row.restart()
                self._waiting.appendleft(row)
            else:
                row.done = True
                row.deliver(GenerationFailed(f"{type(exc).__name__}: {exc}"))
            return
        for row in reversed(rows):
            row.restart()
            self._waiting.appendleft(row)
        self._limit = max(1, len(rows) // 2) if len(rows) > 1 else max(1, len(self._rows))
