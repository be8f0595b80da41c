"""When an answer is stuck in a loop, generating more of it only burns decode steps.

A small model under greedy decoding often ends in a loop ("He is wearing a helmet. He is wearing a
helmet. ..."), and a large one sometimes does: the answer then runs to `max_new_tokens`, and every
step after the loop began is text the cleaner throws away, since it keeps a sentence or tag only
the first time it occurs. A row whose last tokens are one span said again and again (at least
three times, and at least `MIN_LOOP_TOKENS` tokens in all) is finished. Both engines apply the
same rule, so they keep giving the same answers.
"""

from __future__ import annotations

from typing import Sequence

MIN_COPIES = 3
MIN_LOOP_TOKENS = 24  # a one-token loop ("very very very") needs 24 copies, a 6-token sentence 4
MAX_PERIOD = 64  # tokens in the repeated span: a long sentence


def is_looping(tokens: Sequence[int]) -> bool:
    """True when the sequence ends in `copies` back-to-back copies of one span of tokens."""
    n = len(tokens)
    last = tokens[-1] if n else None
    for period in range(1, min(MAX_PERIOD, n // MIN_COPIES) + 1):
        if tokens[-1 - period] != last:  # cheap filter: most periods fail here
            continue
        copies = max(MIN_COPIES, -(-MIN_LOOP_TOKENS // period))
        if copies * period > n:
            continue
        tail = list(tokens[n - period:])
        if all(list(tokens[n - (k + 1) * period: n - k * period]) == tail for k in range(1, copies)):
            return True
    return False


def loop_stopping_criteria(prompt_length: int):
    """The rule as a `generate` stopping criterion: one flag per row, on the new tokens only."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopLoops(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            rows = [is_looping(row) for row in input_ids[:, prompt_length:].tolist()]  # one copy to the host
            return torch.tensor(rows, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopLoops()])
