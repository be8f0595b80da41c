"""One decode step of the running rows over the slot cache, and the choice of their next tokens.

The step's inputs live in fixed buffers: each row's last token, its position (the slot cache's), the
mask. On a GPU the step is captured at start-up as one CUDA graph per batch bucket (1, 2, 4, 8, 16 up
to MAX_BATCH_SIZE), over the eager forward, sharing one memory pool; a step of n rows replays the
graph of the smallest bucket that holds them, the rows above n being free slots. Nothing is compiled.
A replay launches the whole forward at once, where the eager forward launches hundreds of small
kernels from Python, which is what kept a batch-1 step at six times the bandwidth floor.

The choice of the next token stays outside the graph, as tensor ops that are those of `generate`:
the repetition penalty on every token seen (prompt included), then argmax, or, for a seeded row,
temperature, top-k and top-p and a draw from the row's own generator. The draw is torch.multinomial's
own method (divide by exponential noise, take the argmax), which needs no sync with the host. The
chosen tokens feed the next step on the device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .model import REPETITION_PENALTY, SAMPLING
from .slots import SlotCache

BUCKETS = (1, 2, 4, 8, 16)


def buckets_for(max_batch_size: int) -> list[int]:
    return sorted({b for b in BUCKETS if b < max_batch_size} | {max_batch_size})


class Decoder:
    """The fixed buffers of the decode and the step over them, eager or from a captured graph."""

    def __init__(self, model, slots: int, capacity: int) -> None:
        self.model = model
        device = model.device
        # On a GPU every step attends over the whole slot, the shape a graph is captured at; the
        # extra columns cost little beside the weights. A CPU attends over the longest row only.
        self.full_width = device.type == "cuda"
        self.cache = SlotCache(model.config, slots, capacity, model.dtype, device)
        vocabulary = model.get_output_embeddings().weight.shape[0]
        self.input_ids = torch.zeros(slots, 1, dtype=torch.long, device=device)
        self.logits = torch.zeros(slots, vocabulary, dtype=torch.float32, device=device)
        self.seen = torch.zeros(slots, vocabulary, dtype=torch.bool, device=device)  # penalised tokens
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.use_graphs = False
        self.top_k = min(getattr(model.generation_config, "top_k", None) or 50, vocabulary)

    # -- the step ---------------------------------------------------------------------------------

    def run(self, batch: int, width: int) -> None:
        """The forward of one step for the first `batch` slots; what a graph captures."""
        mask = self.cache.attend(batch, width)
        output = self.model(input_ids=self.input_ids[:batch], position_ids=self.cache.positions[:batch, None],
                            attention_mask=mask, cache=self.cache, use_cache=True, logits_to_keep=1)
        self.logits[:batch].copy_(output.logits[:, -1, :])  # float32, what `generate` scores

    def step(self, batch: int, width: int) -> torch.Tensor:
        """Logits of the first `batch` rows; `width` covers the longest row's keys."""
        bucket = self.bucket(batch)
        if bucket is not None:
            self.graphs[bucket].replay()
        else:
            self.run(batch, self.cache.capacity if self.full_width else width)
        return self.logits[:batch]

    def bucket(self, batch: int) -> int | None:
        """The graph that serves `batch` rows, if one does now."""
        if not self.use_graphs or not self.cache.at_home:
            return None
        return next((b for b in sorted(self.graphs) if b >= batch), None)

    def capture(self, buckets: list[int]) -> float:
        """Capture one graph per bucket (largest first, one pool); the seconds it took."""
        started = time.perf_counter()
        capacity = self.cache.capacity
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # kernels chosen and memory allocated before capture
            for batch in reversed(buckets):
                for _ in range(2):
                    self.run(batch, capacity)
        torch.cuda.current_stream().wait_stream(side)
        pool = torch.cuda.graph_pool_handle()
        graphs = {}
        for batch in reversed(buckets):
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self.run(batch, capacity)
            graphs[batch] = graph
        torch.cuda.synchronize()
        self.cache.reset()  # the warm-up wrote into free slots
        self.graphs, self.use_graphs = graphs, True
        return time.perf_counter() - started

    # -- the rows ---------------------------------------------------------------------------------

    def first_token(self, logits: torch.Tensor, prompt: list[int], sampler) -> tuple[int, torch.Tensor]:
        """The first token after a prefill, and the row's penalised tokens ([1, vocabulary])."""
        seen = torch.zeros(1, self.seen.shape[1], dtype=torch.bool, device=logits.device)
        seen[0, torch.tensor(prompt, device=logits.device)] = True
        token = self.choose(logits, seen, [sampler])
        seen[0, token] = True
        return int(token[0]), seen

    def join(self, slot: int, prefilled: list, length: int, token: int, seen: torch.Tensor, reserve: int) -> None:
        """A prefilled row into `slot`: its keys and values, penalised tokens and first token, with
        room for `reserve` columns (its prompt and budget)."""
        self.cache.place(slot, prefilled, length, reserve)
        self.seen[slot] = seen[0]
        self.input_ids[slot, 0] = token

    def advance(self, tokens: torch.Tensor) -> None:
        """Feed the chosen tokens (one per running row) to the next step, on the device."""
        batch = tokens.shape[0]
        self.seen[self.cache.rows[:batch], tokens] = True
        self.input_ids[:batch, 0] = tokens
        self.cache.positions[:batch] += 1

    def move(self, source: int, target: int, length: int) -> None:
        self.cache.move(source, target, length)
        self.seen[target] = self.seen[source]
        self.input_ids[target] = self.input_ids[source]

    def idle(self) -> None:
        """No row runs: back to the buffers the graphs were captured over."""
        if self.graphs and not self.cache.at_home:
            self.cache.restore()

    def choose(self, logits: torch.Tensor, seen: torch.Tensor, samplers: list) -> torch.Tensor:
        """`generate`'s choice per row: repetition penalty, then argmax, or a draw for a row with a
        generator. Rows are scored one by one where they sample, so a row's draw does not depend on
        the batch it runs in."""
        penalty = REPETITION_PENALTY
        scores = torch.where(seen, torch.where(logits < 0, logits * penalty, logits / penalty), logits)
        tokens = scores.argmax(dim=-1)
        for index, sampler in enumerate(samplers):
            if sampler is not None:
                tokens[index: index + 1] = self._draw(scores[index: index + 1], sampler)
        return tokens

    def _draw(self, scores: torch.Tensor, sampler: "Sampler") -> torch.Tensor:
        """Temperature, top-k and top-p as `generate` applies them, then torch.multinomial's draw."""
        scores = scores / sampler.temperature
        scores = scores.masked_fill(scores < torch.topk(scores, self.top_k).values[..., -1:], float("-inf"))
        ordered, order = torch.sort(scores, descending=False)
        drop = ordered.softmax(dim=-1).cumsum(dim=-1) <= 1 - sampler.top_p
        drop[..., -1:] = False  # keep at least one token
        scores = scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        probabilities = scores.softmax(dim=-1)
        noise = torch.empty_like(probabilities).exponential_(1, generator=sampler.generator)
        return (probabilities / noise).argmax(dim=-1)


@dataclass(frozen=True)
class Sampler:
    """How a seeded row samples: its own random generator, and the request's temperature and
    top-p (SAMPLING's where the request leaves them out)."""

    generator: torch.Generator
    temperature: float = SAMPLING["temperature"]
    top_p: float = SAMPLING["top_p"]

    @classmethod
    def for_request(cls, request, device) -> "Sampler | None":
        if request.seed is None:
            return None
        generator = torch.Generator(device=device).manual_seed(request.seed)
        return cls(generator, request.temperature or SAMPLING["temperature"], request.top_p or SAMPLING["top_p"])
