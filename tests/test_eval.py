"""The evaluation's checks (pure functions) and its table, without a model."""

from __future__ import annotations

import json

import pytest

from enhancer import eval as quality_eval
from enhancer.detect import (
    chatter_markers,
    has_chatter,
    has_repetition,
    invents_person,
    is_non_english,
    language_ok,
    redundant_sentences,
    repeated_parts,
)
from enhancer.subject import mentions_person

# --- chatter ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # What the embedded model wrote in place of a prompt (sdxl_image_fast, the public prompts).
        'This can be rewritten into a more descriptive version by using sensory language such as "running".',
        "Here's how you could rephrase it",
        "So, here's the rewritten sentence",
        "The user's image idea can be rewritten into a more engaging image creation prompt",
        "The user wants to create a photo that shows a dog",
        "A simple yet effective way to reduce clutter and make your home look more attractive",
        "This is a great example of creative storytelling on screen",
        "The original video was designed to be edited by a professional editor",
        "I created a series of videos using traditional filmmaking techniques",
        "Sure! A cat on a sofa",
        "**masterpiece**, a cat",
        "- a cat\n- soft light",
        "## Prompt\na cat",
    ],
)
def test_chatter_is_talk_about_the_task_or_chat_formatting(text):
    assert has_chatter(text, "a cat")


@pytest.mark.parametrize(
    "text",
    [
        "masterpiece, best quality, a cat on a sofa, soft natural lighting, sharp focus",
        "A cat dashes across the sofa, making sure nothing falls. The camera holds a steady shot.",
        "A storefront at dusk, warm light spilling onto the wet street, 35mm photograph",
        "Episode I of the saga, a title card on a black screen",
    ],
)
def test_descriptions_are_not_chatter(text):
    assert not has_chatter(text, "a cat")


def test_words_the_user_wrote_are_not_chatter():
    original = 'a sign that says "I LOVE YOU"'
    assert chatter_markers('a wooden sign that says "I LOVE YOU", warm light', original) == []
    assert chatter_markers("a prompt response from a robot", "a prompt response") == []
    assert chatter_markers("a sign that says I LOVE YOU, your prompt here", original) == ["your", "prompt"]


# --- invented person ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "original", "invented"),
    [
        ("She has bright blue hair.", "a dog in a park", True),
        ("A dog in a park. He loves playing fetch with his friends.", "a dog in a park", True),
        ("Runners pass a train as tourists watch.", "a train speeding down the tracks", True),
        ("A man jogs across the field, his shoes muddy.", "A man jogging on a football field", False),
        ("An astronaut feeds the ducks.", "An astronaut feeding ducks", False),
        ("A dog runs through tall grass, its ears flapping.", "a dog", False),
        ("一个人在骑自行车. A cyclist rides along a road.", "一个人在骑自行车", False),
        ("A puppy runs across the grass while a girl watches.", "一只小狗在草地上奔跑。", True),
        ("Two boxers trade punches.", "Two anthropomorphic cats in boxing gear fight", False),
    ],
)
def test_invented_person_is_a_person_the_prompt_did_not_have(answer, original, invented):
    assert invents_person(answer, original) is invented


def test_person_words_are_whole_words():
    assert not mentions_person("manmade shelter, mantle, shepherd's hut, herbs, theme")
    assert mentions_person("she's smiling") and mentions_person("a man-made lake beside a man")


# --- repetition ---------------------------------------------------------------------------------


def test_a_repeated_tag_or_sentence_is_repetition():
    assert repeated_parts("a cat, soft light, A Cat, sharp focus", "sdxl") == ["A Cat"]
    assert has_repetition("A dog runs. The sky is blue. A dog runs.", "wan")
    assert not has_repetition("a cat, soft light, sharp focus", "sdxl")
    assert not has_repetition("The camera pans left. The camera pans right. A dog runs.", "wan")


def test_a_loop_of_restatements_is_repetition():
    loop = ("He's a good friend to everyone. He's a good listener. He's a good friend to all the "
            "animals. He's a good friend.")
    assert repeated_parts(loop, "wan") == ["He's a good friend to all the animals.", "He's a good friend."]
    template = ("She's dancing, a show of style and beauty. She's dancing, a show of creativity and "
                "passion. She's dancing, a show of love and joy.")
    assert repeated_parts(template, "wan") == ["She's dancing, a show of love and joy."]
    assert has_repetition("masterpiece, very very very detailed", "sdxl")
    tags = "a person, they're going to jump, they're going to win, they're going to celebrate"
    assert repeated_parts(tags, "sdxl") == ["they're going to celebrate"]
    # Tags that add a detail to an earlier one are not repetition; in prose a restatement is.
    assert not has_repetition("a cat on a sofa, a cat on a red sofa", "sdxl")
    assert has_repetition("A cat sits on a sofa. A cat sits on a red sofa.", "wan")


def test_dropping_redundant_sentences_leaves_none():
    sentences = ["A dog runs on the beach.", "A dog runs on the beach happily.", "Waves roll in.",
                 "It barks at the waves.", "It barks at the waves again."]
    drop = redundant_sentences(sentences)
    kept = [s for i, s in enumerate(sentences) if i not in drop]
    assert kept == ["A dog runs on the beach.", "Waves roll in.", "It barks at the waves."]
    assert redundant_sentences(kept) == []


# --- language -----------------------------------------------------------------------------------


def test_non_english_is_told_by_script():
    assert is_non_english("一只小狗在草地上奔跑。")
    assert is_non_english("Кошка на диване")
    assert not is_non_english("A photo of a crocodile made of water.")
    assert not is_non_english("café au lait, crème brûlée")  # Latin script: not told apart
    assert not is_non_english("🐱 !!")


@pytest.mark.parametrize(
    ("answer", "original", "family", "ok"),
    [
        ("一只小狗在草地上奔跑。 A puppy runs across green grass, soft light.", "一只小狗在草地上奔跑。", "sdxl", True),
        # Wholly English is one language (an English system prompt asks for it); the subject is
        # then not verifiable across languages (`Answer.cross_language`), which is no mix.
        ("A puppy runs across green grass.", "一只小狗在草地上奔跑。", "sdxl", True),
        ("A puppy runs across green grass.", "一只小狗在草地上奔跑。", "wan", True),
        ("一只小狗在草地上奔跑。 小狗很开心。", "一只小狗在草地上奔跑。", "sdxl", False),  # no English added
        # WAN answers a Chinese prompt in Chinese, and never with English sentences beside it.
        ("一只小狗在草地上奔跑。 小狗很开心。", "一只小狗在草地上奔跑。", "wan", True),
        ("一只小狗在草地上奔跑。 The camera holds a steady shot.", "一只小狗在草地上奔跑。", "wan", False),
        ("A cat on a sofa, 猫, soft light", "a cat on a sofa", "sdxl", False),  # Chinese in an English answer
        ("A silk窗帘 hangs at the window.", "a window", "wan", False),
        ("masterpiece, a cat on a sofa", "a cat on a sofa", "sdxl", True),
        ("\U0001f431 sleeping, \u2600\ufe0f, soft light", "\U0001f431 sleeping \u2600\ufe0f", "sdxl", True),  # emoji + variation selector
    ],
)
def test_language_ok(answer, original, family, ok):
    assert language_ok(answer, original, family) is ok


# --- the run itself -----------------------------------------------------------------------------


def test_prompts_file_is_in_the_package_with_its_source_header():
    text = quality_eval.DEFAULT_PROMPTS.read_text(encoding="utf-8")
    assert text.startswith("#") and "Wan-Video/Wan2.1" in text
    prompts = quality_eval.load_prompts(quality_eval.DEFAULT_PROMPTS)
    assert len(prompts) >= 40 and not any(p.startswith("#") for p in prompts)


def test_no_op_is_an_answer_that_adds_no_word():
    assert quality_eval.is_noop("A Cat!", "a cat")
    assert not quality_eval.is_noop("a cat, soft light", "a cat")


def test_emergency_run_prints_a_table_per_job_type_and_writes_json(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# header\ncat\n一只小狗在草地上奔跑。\na sign that says \"OPEN\"\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    assert quality_eval.main([str(prompts), "--emergency", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for job_type in ("sdxl_image_fast", "sdxl_image_high", "video_fast", "video_high", "wan_7b_enhanced"):
        assert f"### {job_type}" in printed
    assert "| within budget | 3/3 (100%) | 100% |" in printed
    assert "| chatter | 0/3 (0%) | 0 |" in printed
    payload = json.loads(out.read_text(encoding="utf-8"))
    summary = payload["job_types"]["video_fast"]["summary"]
    assert summary["answers"] == 3 and summary["sources"] == {"emergency_fallback": 3}
    assert summary["non_english_prompts"] == 1 and summary["non_english_ok"] == 1
    # The rules' answers are the prompts and stock phrases, which earn nothing (quality.assess):
    # they score as the prompts do, but for the full stop a rules' sentence ends with.
    assert summary["mean_score"] == pytest.approx(summary["mean_unchanged_score"], abs=0.005)

    # A saved run re-judged by today's checks gives the same tables.
    assert quality_eval.main(["--recheck", str(out)]) == 0
    rechecked = capsys.readouterr().out
    assert rechecked.split("\n", 1)[1] == printed.split("\n", 1)[1]
