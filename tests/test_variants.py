"""Several takes on one prompt: their seeds and which of them count as distinct."""

from enhancer.variants import near_duplicates, replacement_seeds, seeds, similarity


def test_the_first_take_is_the_jobs_own_answer_and_the_others_follow_from_its_seed():
    assert seeds(None, "a cat", 3)[0] is None  # greedy, as the same job without variants
    assert seeds(7, "a cat", 3) == [7, 8, 9]
    assert seeds(None, "a cat", 4) == seeds(None, "a cat", 4)  # asked again: the same takes
    assert seeds(None, "a cat", 4)[1:] != seeds(None, "a dog", 4)[1:]


def test_replacements_never_reuse_a_first_takes_seed():
    assert not set(replacement_seeds(7, "a cat", 3)) & set(seeds(7, "a cat", 8))


def test_a_take_with_the_words_of_an_earlier_one_is_a_near_duplicate():
    texts = ["a red fox in deep snow, soft light", "A red fox in deep snow, soft light.",
             "a red fox leaping over a frozen stream at dusk", "a red fox in deep snow soft light"]
    assert similarity(texts[0], texts[1]) == 1.0
    assert near_duplicates(texts) == [1, 3]
    assert near_duplicates(texts[2:3]) == []
