"""The decode's KV cache: one fixed slot per running request, each row written at its own position.

Per layer, keys and values are preallocated as [slots, kv_heads, capacity, head_dim]. A request's
prompt is copied into a free slot when it joins; each decode step writes one column per row, at that
row's own position (transformers' StaticLayer writes every row at one shared position, so rows of
different lengths cannot share it). Rows stay in the low slots: when one leaves, the last row moves
into its place. Nothing is concatenated or padded on a step, and the buffers keep their addresses,
which is what a CUDA graph of the step needs.

Per slot the cache also keeps the attention mask ([slots, 1, 1, capacity], True where a key is real),
passed to the model as a 4D mask, which transformers uses as is, and the position of the row's next
column, which is also that token's position id.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, CacheLayerMixin


class SlotLayer(CacheLayerMixin):
    """One layer of the slot cache; `update` is called by the model's attention on a decode step."""

    def __init__(self, owner: SlotCache, keys: torch.Tensor, values: torch.Tensor) -> None:
        super().__init__()
        self.owner = owner
        self.keys, self.values = keys, values
        self.is_initialized = True

    def lazy_initialization(self, key_states, value_states) -> None:  # allocated up front
        pass

    def update(self, key_states, value_states, *args, **kwargs):
        owner = self.owner
        if key_states.shape[-2] != 1:
            raise ValueError("the slot cache takes one new column per row (prefill into a DynamicCache)")
        rows, at = owner.rows[: owner.batch], owner.positions[: owner.batch]
        self.keys[rows, :, at] = key_states[:, :, 0]
        self.values[rows, :, at] = value_states[:, :, 0]
        return self.keys[: owner.batch, :, : owner.width], self.values[: owner.batch, :, : owner.width]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.owner.width, 0

    def get_seq_length(self) -> int:
        return self.owner.width

    def get_max_length(self) -> int:
        return self.owner.capacity


class SlotCache(Cache):
    """Keys, values, mask and next positions of `slots` rows of at most `capacity` tokens each."""

    def __init__(self, config, slots: int, capacity: int, dtype: torch.dtype, device) -> None:
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.kv_shape = (config.num_key_value_heads,
                         getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)
        self.layer_count, self.dtype, self.device = config.num_hidden_layers, dtype, torch.device(device)
        self.slots = slots
        self.rows = torch.arange(slots, device=self.device)
        self.positions = torch.zeros(slots, dtype=torch.long, device=self.device)
        self.batch = self.width = 0  # the rows and key columns the next step attends over
        super().__init__(layers=[])
        self._allocate(capacity)
        # The first buffers stay alive for good: a CUDA graph captured over them writes there.
        self.home = (self.layers, self.mask, capacity)

    def _allocate(self, capacity: int) -> None:
        heads, dim = self.kv_shape
        shape = (self.slots, heads, capacity, dim)
        self.layers = [SlotLayer(self, torch.zeros(shape, dtype=self.dtype, device=self.device),
                                 torch.zeros(shape, dtype=self.dtype, device=self.device))
                       for _ in range(self.layer_count)]
        self.mask = torch.zeros(self.slots, 1, 1, capacity, dtype=torch.bool, device=self.device)
        self.mask[:, 0, 0, 0] = True  # a free slot attends to something: no all-masked row, no NaN
        self.capacity = capacity

    def reset(self) -> None:
        """Every slot free."""
        self.mask.zero_()
        self.mask[:, 0, 0, 0] = True
        self.positions.zero_()

    def restore(self) -> None:
        """Back to the first buffers, every slot free (call it only when no row runs)."""
        self.layers, self.mask, self.capacity = self.home
        self.reset()

    @property
    def at_home(self) -> bool:
        return self.mask is self.home[1]

    def grow(self, capacity: int) -> None:
        """New buffers of at least `capacity` columns (doubling), the contents copied over. A CUDA
        graph captured over the first buffers does not apply until `restore`."""
        new = self.capacity
        while new < capacity:
            new *= 2
        if new == self.capacity:
            return
        old_layers, old_mask, old = self.layers, self.mask, self.capacity
        self._allocate(new)
        for layer, previous in zip(self.layers, old_layers):
            layer.keys[:, :, :old] = previous.keys
            layer.values[:, :, :old] = previous.values
        self.mask[..., :old] = old_mask

    def place(self, slot: int, prefilled: list[tuple[torch.Tensor, torch.Tensor]], length: int,
              reserve: int) -> None:
        """A joining row: its prompt's keys and values ([1, heads, length, dim] per layer) into `slot`;
        its next column is `length`, and room is made for `reserve` columns in all."""
        if reserve > self.capacity:
            self.grow(reserve)
        for layer, (keys, values) in zip(self.layers, prefilled):
            layer.keys[slot, :, :length] = keys[0]
            layer.values[slot, :, :length] = values[0]
        self.mask[slot] = False
        self.mask[slot, 0, 0, :length] = True
        self.positions[slot] = length

    def move(self, source: int, target: int, length: int) -> None:
        """Row `source` (its first `length` columns) into slot `target`; `source` becomes free."""
        for layer in self.layers:
            layer.keys[target, :, :length] = layer.keys[source, :, :length]
            layer.values[target, :, :length] = layer.values[source, :, :length]
        self.mask[target] = self.mask[source]
        self.positions[target] = self.positions[source]
        self.free(source)

    def free(self, slot: int) -> None:
        self.mask[slot] = False
        self.mask[slot, 0, 0, 0] = True
        self.positions[slot] = 0

    def attend(self, batch: int, width: int) -> torch.Tensor:
        """Set the rows and key columns of the next step; mark each row's new column as real and
        return the step's 4D mask."""
        self.batch, self.width = batch, width
        self.mask[self.rows[:batch], 0, 0, self.positions[:batch]] = True
        return self.mask[:batch, :, :, :width]
