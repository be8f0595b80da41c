"""Continuous batching: a request joins the running decode at the next step and leaves when it ends.

One thread owns the model. Between two decode steps it admits the requests that arrived (each is
prefilled alone, on top of its system prompt's keys and values, which are computed once per distinct
system prompt and kept), then runs one step for every active row together. A row that reaches
end-of-sequence or its own budget leaves at once, so rows of different budgets share steps and a
short request never waits for a long one.

The batch is one KV cache, left-padded: each row's keys and values end at the right edge, an
attention mask hides the padding and each row's positions are its own, so a row decodes as it would
alone. The choice of the next token is that of `generate` (repetition penalty, then greedy, or
temperature, top-k and top-p sampling); a seeded row samples from its own random generator, so its
output does not depend on what else runs beside it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .model import (
    REPETITION_PENALTY,
    SAMPLING,
    DeviceLost,
    GenerationFailed,
    GenerationRequest,
    LoadedModel,
    ServesModel,
    _free_accelerator_memory,
    _is_device_lost,
    _is_oom,
    settle,
)
from .stopping import is_looping

log = logging.getLogger(__name__)

# A shorter common prefix is cheaper to prefill again than to keep and copy.
MIN_SHARED_PREFIX = 16
_STOP = object()


@functools.cache
def _growing_cache_class():
    """A DynamicCache whose layers keep their keys and values in a buffer with room to grow: a decode
    step writes one column in place, where DynamicCache concatenates (copies) the whole cache every
    step, 18% of a batch-8 step on a 2-core CPU in a profile."""
    from transformers import DynamicCache
    from transformers.cache_utils import Cache, DynamicLayer

    class GrowingLayer(DynamicLayer):
        spare = 64  # columns reserved at a time

        def update(self, key_states, value_states, *args, **kwargs):
            import torch

            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self.length, self.buffers = 0, None
            end = self.length + key_states.shape[-2]
            if self.buffers is None or end > self.buffers[0].shape[-2]:
                grown = []
                for old, new in zip(self.buffers or (None, None), (key_states, value_states)):
                    shape = (*new.shape[:2], end + self.spare, new.shape[-1])
                    buffer = torch.empty(shape, dtype=new.dtype, device=new.device)
                    if old is not None:
                        buffer[:, :, : self.length] = old[:, :, : self.length]
                    grown.append(buffer)
                self.buffers = tuple(grown)
            keys, values = self.buffers
            keys[:, :, self.length:end] = key_states
            values[:, :, self.length:end] = value_states
            self.length = end
            self.keys, self.values = keys[:, :, :end], values[:, :, :end]
            return self.keys, self.values

        def place(self, keys, values) -> None:
            """Replace the contents (rows joined or left)."""
            self.is_initialized = False
            self.update(keys, values)

    class GrowingCache(DynamicCache):
        def __init__(self, layers_data=None):
            Cache.__init__(self, layer_class_to_replicate=GrowingLayer)
            for index, (keys, values) in enumerate(layers_data or ()):
                self.update(keys, values, index)

    return GrowingCache


@dataclass(eq=False)
class _Row:
    request: GenerationRequest
    deliver: Callable[[Any], None]  # called once, from the engine thread, with text or an exception
    cancelled: Callable[[], bool]
    prompt: list[int] | None = None
    prefix_length: int = 0  # leading tokens shared with other requests of the same system prompt
    generated: list[int] = field(default_factory=list)
    sampler: Any = None  # the torch.Generator of a seeded row
    failures: int = 0  # out-of-memory failures while running alone

    def restart(self) -> None:
        self.generated, self.sampler = [], None


class ContinuousGenerator(ServesModel):
    """The model behind a step-level scheduler; same interface as the micro-batching `Generator`."""

    engine = "continuous"

    def __init__(self, loaded: LoadedModel, max_batch_size: int = 8, prefix_cache_entries: int = 16,
                 stop_loops: bool = True) -> None:
        self.loaded = loaded
        self.stop_loops = stop_loops
        self.max_batch_size = max(1, max_batch_size)
        self.prefix_cache_entries = prefix_cache_entries
        self.rows_run = 0  # requests answered by the model
        self.steps_run = 0  # decode steps
        self.shared_steps = 0  # decode steps that served more than one request
        self.prefix_hits = 0  # prefills that reused a kept system prompt
        self.loops_stopped = 0  # rows ended early because they were repeating themselves
        self.warmup_seconds: float | None = None
        self._prefixes: OrderedDict[tuple[int, ...], list] = OrderedDict()
        self._system_ids: OrderedDict[str, list[int]] = OrderedDict()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting: deque[_Row] = deque()
        self._limit = self.max_batch_size  # lowered after an out-of-memory step, restored when idle
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._clear_batch()

    # -- interface ----------------------------------------------------------------------------

    @property
    def batches_run(self) -> int:  # the micro-batcher's figure; here every step is a batch
        return self.steps_run

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
        """Prefill these system prompts now, so that no request pays for them; the seconds it took.
        Call it before the first request: it runs on the caller's thread. Nothing is compiled."""
        import time

        import torch

        started = time.perf_counter()
        with torch.inference_mode():
            for system in dict.fromkeys(system_prompts):
                ids = self._system_prefix({"role": "system", "content": system})
                if len(ids) >= MIN_SHARED_PREFIX:
                    self._prefix_kv(tuple(ids))
        self.warmup_seconds = time.perf_counter() - started
        return self.warmup_seconds

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
                if not self._collect(block=not self._rows and not self._waiting):
                    break
                self._admit()
                if self._rows:
                    self._step()
                elif not self._waiting:
                    self._limit = self.max_batch_size
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
                cache, logits = self._prefill(row)
            except Exception as exc:
                # A prefill runs one row: only running out of memory beside other rows is shared.
                self._recover([row], exc, alone=not self._rows or not _is_oom(exc))
                return
            self._join(row, cache, logits)

    def _step(self) -> None:
        import torch
        import torch.nn.functional as F

        rows = self._rows
        device = self.loaded.model.device
        inputs = torch.tensor([[row.generated[-1]] for row in rows], device=device)
        positions = torch.tensor([[len(row.prompt) + len(row.generated) - 1] for row in rows], device=device)
        mask = F.pad(self._mask, (0, 1), value=1)
        try:
            logits = self._forward(inputs, mask, positions, self._cache)
            tokens = self._choose(logits, self._seen, rows)
        except Exception as exc:
            self._clear_batch()  # layers may be half updated: the rows start again
            self._recover(rows, exc, alone=len(rows) == 1)
            return
        self._mask = mask
        self._seen[torch.arange(len(rows), device=device), torch.tensor(tokens, device=device)] = True
        self.steps_run += 1
        self.shared_steps += len(rows) > 1
        leaving, eos = [], self._eos()
        for index, (row, token) in enumerate(zip(rows, tokens)):
            row.generated.append(token)
            if row.cancelled() or self._finished(row, eos):
                leaving.append(index)
        for index in leaving:
            self._finish(rows[index])
        if leaving:
            self._retire(leaving)

    # -- model work ---------------------------------------------------------------------------

    def _forward(self, input_ids, attention_mask, position_ids, cache):
        """Logits of each row's last position, as float32 (what `generate` scores)."""
        output = self.loaded.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            cache=cache, use_cache=True, logits_to_keep=1,
        )
        return output.logits[:, -1, :].float()

    def _encode(self, row: _Row) -> None:
        tokenizer = self.loaded.tokenizer
        messages = [{"role": role, "content": content} for role, content in row.request.messages]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        row.prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        row.prefix_length = 0
        if messages and messages[0]["role"] == "system":
            system = self._system_prefix(messages[0])
            shared = 0
            for a, b in zip(system, row.prompt):
                if a != b:
                    break
                shared += 1
            shared = min(shared, len(row.prompt) - 1)  # at least one token of the row's own
            row.prefix_length = shared if shared >= MIN_SHARED_PREFIX else 0

    def _system_prefix(self, message: dict) -> list[int]:
        """The tokens of the system turn alone (memoized by its text)."""
        ids = self._system_ids.get(message["content"])
        if ids is None:
            tokenizer = self.loaded.tokenizer
            text = tokenizer.apply_chat_template([message], tokenize=False, add_generation_prompt=False)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            self._system_ids[message["content"]] = ids
            while len(self._system_ids) > 4 * self.prefix_cache_entries:
                self._system_ids.popitem(last=False)
        else:
            self._system_ids.move_to_end(message["content"])
        return ids

    def _prefix_kv(self, prefix: tuple[int, ...]) -> list:
        """Keys and values of a shared prefix, computed on its first use and kept (LRU)."""
        import torch

        kept = self._prefixes.get(prefix)
        if kept is not None:
            self._prefixes.move_to_end(prefix)
            self.prefix_hits += 1
            return kept
        device = self.loaded.model.device
        cache = _growing_cache_class()()
        n = len(prefix)
        self._forward(torch.tensor([prefix], device=device), torch.ones(1, n, dtype=torch.long, device=device),
                      torch.arange(n, device=device)[None], cache)
        kept = [(layer.keys, layer.values) for layer in cache.layers]
        self._prefixes[prefix] = kept
        while len(self._prefixes) > self.prefix_cache_entries:
            self._prefixes.popitem(last=False)
        return kept

    def _prefill(self, row: _Row):
        import torch

        if row.prompt is None:
            self._encode(row)
        device = self.loaded.model.device
        start = row.prefix_length
        cache = _growing_cache_class()(self._prefix_kv(tuple(row.prompt[:start])) if start else None)
        total = len(row.prompt)
        logits = self._forward(
            torch.tensor([row.prompt[start:]], device=device),
            torch.ones(1, total, dtype=torch.long, device=device),
            torch.arange(start, total, device=device)[None],
            cache,
        )
        return cache, logits

    def _choose(self, logits, seen, rows: list[_Row]) -> list[int]:
        """`generate`'s choice: repetition penalty on every token seen, then argmax or a sample."""
        import torch

        penalty = REPETITION_PENALTY
        scores = torch.where(seen, torch.where(logits < 0, logits * penalty, logits / penalty), logits)
        tokens = scores.argmax(dim=-1).tolist()
        for index, row in enumerate(rows):
            if row.request.seed is not None:
                tokens[index] = self._sample(scores[index], row)
        return tokens

    def _sample(self, scores, row: _Row) -> int:
        import torch

        if row.sampler is None:
            row.sampler = torch.Generator(device=scores.device).manual_seed(row.request.seed)
        scores = scores / SAMPLING["temperature"]
        top_k = min(getattr(self.loaded.model.generation_config, "top_k", None) or 50, scores.shape[-1])
        scores = scores.masked_fill(scores < torch.topk(scores, top_k).values[-1], float("-inf"))
        ordered, order = torch.sort(scores, descending=False)
        drop = ordered.softmax(dim=-1).cumsum(dim=-1) <= 1 - SAMPLING["top_p"]
        drop[-1] = False  # keep at least one token
        scores = scores.masked_fill(drop.scatter(0, order, drop), float("-inf"))
        return int(torch.multinomial(scores.softmax(dim=-1), 1, generator=row.sampler))

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
        if row.cancelled():
            return
        self.rows_run += 1
        self.loops_stopped += self.stop_loops and row.generated[-1] not in self._eos() and is_looping(row.generated)
        row.deliver(self.loaded.tokenizer.decode(row.generated, skip_special_tokens=True))

    def _clear_batch(self) -> None:
        self._rows: list[_Row] = []
        self._cache = None
        self._mask = None  # [rows, length]: 1 for a real token, 0 for left padding
        self._seen = None  # [rows, vocabulary]: tokens the repetition penalty applies to

    def _join(self, row: _Row, cache, logits) -> None:
        """Choose the row's first token; unless that ends it, add it to the running batch."""
        import torch
        import torch.nn.functional as F

        device = logits.device
        seen = torch.zeros(1, logits.shape[-1], dtype=torch.bool, device=device)
        seen[0, torch.tensor(row.prompt, device=device)] = True
        token = self._choose(logits, seen, [row])[0]
        row.generated.append(token)
        seen[0, token] = True
        if self._finished(row):
            self._finish(row)
            return
        length = len(row.prompt)
        mask = torch.ones(1, length, dtype=torch.long, device=device)
        if self._cache is None:
            self._cache, self._mask, self._seen, self._rows = cache, mask, seen, [row]
            return
        width = self._mask.shape[1]
        target = max(width, length)
        for layer, new in zip(self._cache.layers, cache.layers):
            layer.place(torch.cat([F.pad(layer.keys, (0, 0, target - width, 0)),
                                   F.pad(new.keys, (0, 0, target - length, 0))]),
                        torch.cat([F.pad(layer.values, (0, 0, target - width, 0)),
                                   F.pad(new.values, (0, 0, target - length, 0))]))
        self._mask = torch.cat([F.pad(self._mask, (target - width, 0)), F.pad(mask, (target - length, 0))])
        self._seen = torch.cat([self._seen, seen])
        self._rows.append(row)

    def _retire(self, leaving: list[int]) -> None:
        """Drop finished rows, then the padding columns no remaining row needs."""
        import torch

        keep = [i for i in range(len(self._rows)) if i not in set(leaving)]
        if not keep:
            self._clear_batch()
            return
        index = torch.tensor(keep, device=self._mask.device)
        self._mask = self._mask.index_select(0, index)
        start = int((self._mask.sum(dim=0) > 0).nonzero()[0])
        self._mask = self._mask[:, start:]
        for layer in self._cache.layers:
            layer.place(layer.keys.index_select(0, index)[:, :, start:],
                        layer.values.index_select(0, index)[:, :, start:])
        self._seen = self._seen.index_select(0, index)
        self._rows = [self._rows[i] for i in keep]

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
                row.deliver(GenerationFailed(f"{type(exc).__name__}: {exc}"))
            return
        for row in reversed(rows):
            row.restart()
            self._waiting.appendleft(row)
        self._limit = max(1, len(rows) // 2) if len(rows) > 1 else max(1, len(self._rows))
