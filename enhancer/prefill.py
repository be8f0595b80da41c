"""A request's prompt into keys and values, on top of its system prompt's, which are computed once.

A prompt is the chat template over the request's messages. Its system turn, when at least
MIN_SHARED_PREFIX tokens are shared with the system prompt alone, is prefilled once per distinct
system prompt and kept (LRU), so a request prefills only its own part. A prefill runs one request,
into a DynamicCache: the decode copies its keys and values into a slot (slots.py).
"""

from __future__ import annotations

from collections import OrderedDict

from .model import LoadedModel

# A shorter common prefix is cheaper to prefill again than to keep and copy.
MIN_SHARED_PREFIX = 16


class Prefiller:
    def __init__(self, loaded: LoadedModel, entries: int = 16) -> None:
        self.loaded = loaded
        self.entries = entries
        self.hits = 0  # prefills that reused a kept system prompt
        self._prefixes: OrderedDict[tuple[int, ...], list] = OrderedDict()
        self._system_ids: OrderedDict[str, list[int]] = OrderedDict()

    def encode(self, messages: tuple[tuple[str, str], ...]) -> tuple[list[int], int]:
        """The prompt's token ids, and how many of them lead with the kept system prompt's (0: none)."""
        tokenizer = self.loaded.tokenizer
        turns = [{"role": role, "content": content} for role, content in messages]
        text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        if not turns or turns[0]["role"] != "system":
            return prompt, 0
        shared = 0
        for a, b in zip(self._system_ids_of(turns[0]["content"]), prompt):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(prompt) - 1)  # at least one token of the request's own
        return prompt, shared if shared >= MIN_SHARED_PREFIX else 0

    def keep(self, system_prompt: str) -> None:
        """Prefill a system prompt now, so that no request pays for it."""
        ids = self._system_ids_of(system_prompt)
        if len(ids) >= MIN_SHARED_PREFIX:
            self._prefix_kv(tuple(ids))

    def prefill(self, prompt: list[int], prefix_length: int):
        """The prompt alone, on top of its kept prefix: (keys and values per layer, last logits)."""
        import torch
        from transformers import DynamicCache

        device = self.loaded.model.device
        cache = DynamicCache(self._prefix_kv(tuple(prompt[:prefix_length])) if prefix_length else None)
        total = len(prompt)
        logits = self.forward(
            torch.tensor([prompt[prefix_length:]], device=device),
            torch.ones(1, total, dtype=torch.long, device=device),
            torch.arange(prefix_length, total, device=device)[None],
            cache,
        )
        return [(layer.keys, layer.values) for layer in cache.layers], logits

    def forward(self, input_ids, attention_mask, position_ids, cache):
        """Logits at the last position, as float32 (what `generate` scores)."""
        output = self.loaded.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            cache=cache, use_cache=True, logits_to_keep=1,
        )
        return output.logits[:, -1, :].float()

    def _system_ids_of(self, content: str) -> list[int]:
        """The tokens of the system turn alone (memoized by its text)."""
        ids = self._system_ids.get(content)
        if ids is None:
            tokenizer = self.loaded.tokenizer
            text = tokenizer.apply_chat_template([{"role": "system", "content": content}], tokenize=False,
                                                 add_generation_prompt=False)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            self._system_ids[content] = ids
            while len(self._system_ids) > 4 * self.entries:
                self._system_ids.popitem(last=False)
        else:
            self._system_ids.move_to_end(content)
        return ids

    def _prefix_kv(self, prefix: tuple[int, ...]) -> list:
        """Keys and values of a shared prefix, computed on its first use and kept (LRU)."""
        import torch
        from transformers import DynamicCache

        kept = self._prefixes.get(prefix)
        if kept is not None:
            self._prefixes.move_to_end(prefix)
            self.hits += 1
            return kept
        device = self.loaded.model.device
        cache = DynamicCache()
        n = len(prefix)
        self.forward(torch.tensor([prefix], device=device), torch.ones(1, n, dtype=torch.long, device=device),
                     torch.arange(n, device=device)[None], cache)
        kept = [(layer.keys, layer.values) for layer in cache.layers]
        self._prefixes[prefix] = kept
        while len(self._prefixes) > self.entries:
            self._prefixes.popitem(last=False)
        return kept
