"""The loop stop: which token sequences count as an answer stuck in a loop."""

from enhancer.stopping import MIN_LOOP_TOKENS, is_looping

SENTENCE = [11, 12, 13, 14, 15, 16]  # "He is wearing a helmet." is about six tokens


def test_a_sentence_said_four_times_in_a_row_is_a_loop():
    assert is_looping([1, 2, 3] + SENTENCE * 4)


def test_a_sentence_said_three_times_is_not_yet_a_loop_when_short():
    assert not is_looping([1, 2, 3] + SENTENCE * 3)  # 18 tokens: under MIN_LOOP_TOKENS


def test_a_long_span_said_three_times_is_a_loop():
    span = list(range(100, 112))
    assert is_looping(span * 3)
    assert not is_looping(span * 2)


def test_a_loop_counts_only_at_the_end():
    assert not is_looping(SENTENCE * 5 + [1, 2, 3])


def test_one_token_repeated_needs_the_full_length():
    assert not is_looping([7] * (MIN_LOOP_TOKENS - 1))
    assert is_looping([1] + [7] * MIN_LOOP_TOKENS)


def test_varied_text_and_short_sequences_are_not_loops():
    assert not is_looping([])
    assert not is_looping([5])
    assert not is_looping(list(range(300)))
    # Same opening, different endings: "She loves pizza. She loves cake. She loves tea." is not a loop.
    assert not is_looping([1, 2, 3, 40] + [1, 2, 3, 41] + [1, 2, 3, 42] + [1, 2, 3, 43] + [1, 2, 3, 44] * 2)


def test_spans_longer_than_the_longest_period_are_not_checked():
    span = list(range(1000, 1070))  # 70 tokens: longer than MAX_PERIOD
    assert not is_looping(span * 3)
