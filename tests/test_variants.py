"""Several takes on one prompt: their seeds and which of them count as distinct."""

from enhancer.variants import repeats, replacement_seeds, seeds, similarity


def test_the_first_take_is_the_jobs_own_answer_and_the_others_follow_from_its_seed():
    assert seeds(None, "a cat", 3)[0] is None  # greedy, as the same job without variants
    assert seeds(7, "a cat", 3) == [7, 8, 9]
    assert seeds(None, "a cat", 4) == seeds(None, "a cat", 4)  # asked again: the same takes
    assert seeds(None, "a cat", 4)[1:] != seeds(None, "a dog", 4)[1:]


def test_replacements_never_reuse_a_first_takes_seed():
    assert not set(replacement_seeds(7, "a cat", 3)) & set(seeds(7, "a cat", 8))


def test_a_take_with_the_words_of_another_repeats_it():
    assert similarity("a red fox in deep snow, soft light", "A red fox in deep snow, soft light.") == 1.0
    assert repeats("a red fox in deep snow, soft light", "a red fox in deep snow with soft light")
    assert not repeats("a red fox in deep snow, soft light", "a red fox leaping over a frozen stream at dusk")
