"""The slot KV cache: each row written at its own position, rows moved into freed slots, growth."""

from __future__ import annotations

import pytest
import torch

from enhancer.slots import SlotCache


@pytest.fixture
def cache():
    from transformers import LlamaConfig

    config = LlamaConfig(hidden_size=8, num_attention_heads=2, num_key_value_heads=1, num_hidden_layers=2,
                         vocab_size=10, intermediate_size=16)
    return SlotCache(config, slots=3, capacity=8, dtype=torch.float32, device="cpu")


def prompt(value: float, length: int, layers: int = 2):
    """Keys of `value` and values of -`value`, [1, heads=1, length, head_dim=4], per layer."""
    return [(torch.full((1, 1, length, 4), value), torch.full((1, 1, length, 4), -value)) for _ in range(layers)]


def column(value: float, rows: int = 2):
    return torch.full((rows, 1, 1, 4), value)


def test_each_row_is_written_at_its_own_position_and_sees_only_its_own_columns(cache):
    cache.place(0, prompt(1.0, 2), 2, reserve=4)
    cache.place(1, prompt(2.0, 5), 5, reserve=8)
    mask = cache.attend(2, 6)
    new = torch.cat([column(7.0, 1), column(8.0, 1)])
    keys, values = cache.layers[0].update(new, -new, 0)
    assert keys.shape == (2, 1, 6, 4)
    assert keys[0, 0, :, 0].tolist() == [1, 1, 7, 0, 0, 0]  # row 0's third column
    assert keys[1, 0, :, 0].tolist() == [2, 2, 2, 2, 2, 8]  # row 1's sixth
    assert values[1, 0, 5, 0] == -8
    assert mask[:, 0, 0].tolist() == [[True, True, True, False, False, False], [True] * 6]


def test_a_row_moved_into_a_freed_slot_keeps_its_keys_mask_and_position(cache):
    cache.place(0, prompt(1.0, 2), 2, reserve=4)
    cache.place(1, prompt(2.0, 3), 3, reserve=4)
    cache.move(1, 0, length=3)
    assert cache.positions[:2].tolist() == [3, 0]
    assert cache.layers[1].keys[0, 0, :3, 0].tolist() == [2, 2, 2]
    assert cache.mask[0, 0, 0, :4].tolist() == [True, True, True, False]
    assert cache.mask[1, 0, 0].tolist() == [True] + [False] * 7  # free: one column, never all masked


def test_a_row_that_needs_more_room_grows_every_slot_and_keeps_what_they_hold(cache):
    cache.place(0, prompt(1.0, 6), 6, reserve=8)
    cache.place(1, prompt(2.0, 10), 10, reserve=20)
    assert cache.capacity == 32 and not cache.at_home
    assert cache.layers[0].keys[0, 0, :7, 0].tolist() == [1] * 6 + [0]
    assert cache.mask[0, 0, 0, :7].tolist() == [True] * 6 + [False]
    cache.restore()
    assert cache.at_home and cache.capacity == 8 and cache.positions.tolist() == [0, 0, 0]


def test_a_prefill_is_refused_by_the_slots(cache):
    cache.attend(1, 4)
    with pytest.raises(ValueError, match="one new column per row"):
        cache.layers[0].update(torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4), 0)
