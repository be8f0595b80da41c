"""clean() and optimize(): what the worker guarantees about the text a model hands back."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enhancer.postprocess import clean, is_unusable, optimize
from enhancer.postprocess.text import units_of
from enhancer.profiles import (
    CAMERA,
    CINEMATOGRAPHY,
    LIGHTING,
    MOTION,
    PROFILES,
    QUALITY_TAGS,
    RESOLUTION,
    TECHNICAL,
)
from enhancer.subject import asks_for_person, carries_subject, subject_coverage
from enhancer.tokens import EstimateTokenCounter, clip_counter

CLIP = clip_counter()
ESTIMATE = EstimateTokenCounter()
SDXL_FAST = PROFILES["sdxl_fast"]
SDXL_HIGH = PROFILES["sdxl_high"]
WAN_FAST = PROFILES["wan_fast"]
WAN_HIGH = PROFILES["wan_high"]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def counter_for(profile):
    return CLIP if profile.family == "sdxl" else ESTIMATE


def tags(prompt: str) -> list[str]:
    return [t.strip() for t in prompt.split(", ")]


def sentences(prose: str) -> list[str]:
    return re.split(r"(?<=[.!?\u3002])\s+", prose.strip())


# --- clean ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            'Here is the enhanced prompt:\n\n"A fluffy orange cat on a velvet sofa, soft light"\n\n'
            "I hope this helps! Let me know if you want any changes.",
            "A fluffy orange cat on a velvet sofa, soft light",
        ),
        (
            "**Enhanced Prompt:**\n\nmasterpiece, best quality, a cat on a sofa, *soft* lighting",
            "masterpiece, best quality, a cat on a sofa, soft lighting",
        ),
        (
            "Sure! Here's an enhanced version of your prompt: a tabby cat on a sofa, rim light",
            "a tabby cat on a sofa, rim light",
        ),
        (
            "Certainly! Here is a video prompt for \"a dog running on a beach\":\n\n"
            "A golden retriever runs along the shoreline as waves roll in. The camera tracks it "
            "from the side.\n\nThis prompt emphasizes motion and camera work.",
            "A golden retriever runs along the shoreline as waves roll in. The camera tracks it "
            "from the side.",
        ),
        (
            "Enhanced prompt: A cat sits on a sofa in warm light. (Word count: 42)",
            "A cat sits on a sofa in warm light.",
        ),
        (
            "Prompt: a cat on a sofa, moody lighting\n\nNote: I added lighting details to improve it.",
            "a cat on a sofa, moody lighting",
        ),
        (
            "I'd be happy to help! Final prompt: a cat on a sofa, volumetric light",
            "a cat on a sofa, volumetric light",
        ),
    ],
)
def test_clean_strips_preambles_labels_quotes_and_trailing_chatter(raw, expected):
    assert clean(raw, "a cat on a sofa") == expected


def test_clean_removes_a_closed_reasoning_block():
    raw = "<think>The user wants a cat. I should add lighting.</think>\n\nA cat on a sofa, golden hour"
    assert clean(raw, "a cat") == "A cat on a sofa, golden hour"


def test_clean_treats_an_unclosed_reasoning_block_as_no_answer():
    assert clean("<think>Let me think about what the user wants, a cat on", "a cat") == ""


def test_clean_drops_reasoning_before_a_lone_closing_tag():
    raw = "Okay, the user wants lighting, so I will add some.\n</think>\nA cat, rim light"
    assert clean(raw, "a cat") == "A cat, rim light"


def test_clean_removes_markdown_headings_lists_and_code_fences():
    raw = "### Enhanced Prompt\n1. A red fox leaps over a frozen stream.\n2. The camera pans slowly."
    assert clean(raw, "a fox") == "A red fox leaps over a frozen stream.\nThe camera pans slowly."
    assert clean("```text\na cat on a sofa, cinematic lighting\n```", "x") == "a cat on a sofa, cinematic lighting"
    assert clean("- soft lighting\n- 85mm lens\n* bokeh", "x") == "soft lighting\n85mm lens\nbokeh"


def test_clean_drops_echoed_instructions_and_the_echoed_input():
    raw = "Rewrite this prompt: a cat on a sofa\n\nEnhanced: a fluffy cat sleeping on a sofa, warm light"
    assert clean(raw, "a cat on a sofa") == "a fluffy cat sleeping on a sofa, warm light"
    raw = "Original prompt: a cat\nEnhanced prompt: a majestic cat, dramatic lighting"
    assert clean(raw, "a cat") == "a majestic cat, dramatic lighting"
    raw = "a cat on a sofa\na fluffy tabby cat lounging on a sofa, sunlight"
    assert clean(raw, "a cat on a sofa") == "a fluffy tabby cat lounging on a sofa, sunlight"


def test_clean_drops_a_negative_prompt_and_what_follows():
    raw = "SDXL Prompt: cyberpunk city, neon lights\nNegative prompt: blurry, low quality"
    assert clean(raw, "city") == "cyberpunk city, neon lights"


def test_clean_removes_chat_template_tokens():
    assert clean("<|im_start|>assistant\nA cat on a sofa, soft light<|im_end|>", "cat") == "A cat on a sofa, soft light"


def test_clean_strips_form_field_labels():
    raw = "Subject: a tabby cat\nLighting: soft window light\nStyle: photorealistic"
    assert clean(raw, "a cat") == "a tabby cat\nsoft window light\nphotorealistic"


def test_clean_keeps_quoted_text_inside_the_prompt():
    raw = 'A neon sign reading "OPEN" glows in the rain, wet asphalt. I hope you like it!'
    assert clean(raw, "a neon sign") == 'A neon sign reading "OPEN" glows in the rain, wet asphalt.'


def test_clean_keeps_prompts_that_start_like_an_interjection():
    assert clean("Great white shark hunting, light rays", "shark") == "Great white shark hunting, light rays"
    assert clean("Great choice! A lion at golden hour, 8k", "lion") == "A lion at golden hour, 8k"


def test_clean_keeps_only_the_first_of_several_options():
    raw = "Option 1: a cat on a sofa, soft light\nOption 2: a cat in a garden, dappled light"
    assert clean(raw, "a cat") == "a cat on a sofa, soft light"


@PROPERTY
@given(raw=st.text(max_size=400))
def test_clean_never_fails_and_leaves_no_reasoning_or_bold_markers(raw):
    out = clean("**Prompt:** <think>plan</think>" + raw, "a cat")
    assert "<think>" not in out and "**" not in out
    assert out == out.strip()


def test_clean_turns_a_refusal_into_nothing():
    assert clean("I'm sorry, but I can't help with that request.", "something") == ""
    assert clean("As an AI language model, I cannot create images.", "something") == ""


def test_clean_of_empty_or_missing_text_is_empty():
    assert clean("", "a cat") == ""
    assert clean("   \n\n  ", "a cat") == ""


@pytest.mark.parametrize(
    ("text", "unusable"),
    [
        ("", True),
        ("... --", True),
        ("I'm unable to help with that.", True),
        ("Sorry, I cannot create that.", True),
        ("A Cat on a Sofa!", True),
        ("a cat on a sofa, soft light", False),
    ],
)
def test_is_unusable_spots_empty_refusing_or_echoing_answers(text, unusable):
    assert is_unusable(text, "a cat on a sofa") is unusable


# --- optimize: SDXL ---------------------------------------------------------------------------

SMOLLM_CAT = (
    "A cute cat is sitting on a cozy sofa in a warm living room. The cat has soft fur and big "
    "eyes. Soft natural lighting comes from the window, creating gentle shadows. Highly "
    "detailed, realistic, 4k, warm colors, cozy atmosphere, peaceful mood, interior design, "
    "beautiful composition, trending on artstation, award winning photography, bokeh"
)


def test_sdxl_realistic_answer_leads_with_quality_tags_then_the_subject_within_one_window():
    cleaned = clean("Here is your enhanced prompt:\n\n" + SMOLLM_CAT + "\n\nI hope you like it!", "a cat on a sofa")
    out = optimize(cleaned, "a cat on a sofa", SDXL_FAST, CLIP)
    # The model's own quality tag moves to the front; no defaults are added next to it. The
    # answer names the cat and the sofa itself, so the user's words are not put in front again.
    assert out.startswith("Highly detailed, A cute cat is sitting on a cozy sofa")
    assert CLIP.count(out) <= 75
    assert "\n" not in out
    assert LIGHTING.present_in(out) and TECHNICAL.present_in(out)


def test_sdxl_clean_answer_passes_through_led_by_the_default_quality_tags():
    raw = "Sure! Here's the prompt: a fluffy cat curled up on a sofa, cozy living room, warm colors"
    out = optimize(clean(raw, "a cat on a sofa"), "a cat on a sofa", SDXL_FAST, CLIP)
    assert out == "masterpiece, best quality, highly detailed, a fluffy cat curled up on a sofa, cozy living room, warm colors"


def test_sdxl_repaired_thin_answer_gets_the_defaults_it_lacks():
    raw = "a fluffy cat curled up on a sofa, cozy living room, a girl reading nearby, warm colors"
    out = optimize(clean(raw, "a cat on a sofa"), "a cat on a sofa", SDXL_FAST, CLIP)
    assert out == (
        "masterpiece, best quality, highly detailed, a fluffy cat curled up on a "
        "sofa, cozy living room, warm colors, soft natural lighting, sharp focus, intricate details"
    )


def test_sdxl_subject_moves_right_after_the_quality_tags():
    out = optimize("soft light, bokeh, a red fox in the snow, masterpiece", "a red fox in the snow", SDXL_FAST, CLIP)
    assert tags(out)[:2] == ["masterpiece", "a red fox in the snow"]


def test_sdxl_lines_join_into_one_line_and_sentences_stay_whole():
    out = optimize("A lighthouse on a cliff.\nStormy sea. Dramatic lighting", "lighthouse", SDXL_FAST, CLIP)
    assert "\n" not in out
    assert "A lighthouse on a cliff. Stormy sea. Dramatic lighting" in out


def test_sdxl_duplicates_and_mere_repeats_of_the_subject_are_dropped():
    out = optimize(
        "cat on sofa, Soft Lighting, soft lighting, a cat on a sofa, cats, velvet sofa texture",
        "a cat on a sofa", SDXL_FAST, CLIP,
    )
    lowered = [t.lower() for t in tags(out)]
    assert lowered.count("soft lighting") == 1
    # The tags carry the subject, so the user's words are not added again, and of two tags
    # that say the same thing only the first stays.
    assert lowered.count("cat on sofa") + lowered.count("a cat on a sofa") == 1
    assert "velvet sofa texture" in lowered


def test_sdxl_default_quality_tags_are_added_only_when_none_are_present():
    out = optimize("a cat, rim light, sharp focus", "a cat", SDXL_FAST, CLIP)
    assert out.startswith(QUALITY_TAGS.default + ", a cat")
    out = optimize("a cat, rim light, sharp focus, best quality", "a cat", SDXL_FAST, CLIP)
    assert out.startswith("best quality, a cat")
    assert "masterpiece" not in out


def test_sdxl_required_elements_are_added_where_a_repaired_thin_answer_lacks_them():
    out = optimize("a lighthouse, stormy sea, a man waving", "a lighthouse", SDXL_HIGH, CLIP)
    assert "a man waving" not in out
    for element in (QUALITY_TAGS, LIGHTING, TECHNICAL, CAMERA, RESOLUTION):
        assert element.present_in(out), element.name
    assert CLIP.count(out) <= SDXL_HIGH.budget


def test_sdxl_compression_keeps_lighting_and_technical_over_style():
    style = ", ".join(f"style flourish number {i}" for i in range(40))
    model = f"{style}, golden hour backlighting, shallow depth of field, 85mm lens"
    out = optimize(model, "a cat on a sofa", SDXL_FAST, CLIP)
    assert CLIP.count(out) <= 75
    assert out.startswith("masterpiece, best quality, highly detailed, a cat on a sofa, ")
    assert "golden hour backlighting" in out and "shallow depth of field" in out
    assert "style flourish number 39" not in out
    kept = [t for t in tags(out) if t.startswith("style flourish")]
    assert kept == [f"style flourish number {i}" for i in range(len(kept))]


def test_sdxl_packs_to_the_exact_count_of_the_final_string():
    for n in range(10, 60, 7):
        model = ", ".join(f"detail{i} word" for i in range(n))
        out = optimize(model, "a cat", SDXL_FAST, CLIP)
        assert CLIP.count(out) <= 75
        dropped = [f"detail{i} word" for i in range(n) if f"detail{i} word" not in tags(out)]
        for tag in dropped:
            # Tight packing: no dropped tag would still have fitted.
            assert CLIP.count(out + ", " + tag) > 75


def test_sdxl_kept_model_tags_stay_in_their_original_order():
    model = "velvet texture, golden hour light, vintage style, 85mm lens"
    out = optimize(model, "a cat", SDXL_FAST, CLIP)
    assert out == (
        "masterpiece, best quality, highly detailed, a cat, velvet texture, golden hour light, "
        "vintage style, 85mm lens, sharp focus, intricate details"
    )


def test_sdxl_weighted_groups_and_quotes_are_not_split_by_their_commas():
    original = 'a sign that says "OPEN, 24 HOURS", (red, glowing neon:1.3)'
    out = optimize("rain, night", original, SDXL_FAST, CLIP)
    assert '"OPEN, 24 HOURS"' in out and "(red, glowing neon:1.3)" in out


def test_sdxl_user_prompt_over_budget_keeps_one_quality_tag_and_cuts_between_words():
    original = " ".join(f"word{i}" for i in range(120))
    out = optimize("soft lighting, bokeh, 8k", original, SDXL_FAST, CLIP)
    assert CLIP.count(out) <= 75
    first, rest = out.split(", ", 1)
    assert first == "masterpiece"
    assert original.startswith(rest) and original[len(rest)] == " "
    assert "lighting" not in out  # compressed, never expanded


def test_sdxl_subject_cut_never_falls_inside_a_weighted_group():
    original = " ".join(f"word{i}" for i in range(50)) + " (a very long weighted group " + "x " * 30 + ":1.2) end"
    out = optimize("", original, SDXL_FAST, CLIP)
    assert CLIP.count(out) <= 75
    assert "(" not in out or "(a very long weighted group" in out and ":1.2)" in out


def test_sdxl_empty_model_text_gives_quality_subject_and_defaults():
    out = optimize("", "cat", SDXL_FAST, CLIP)
    assert out == "masterpiece, best quality, highly detailed, cat, soft natural lighting, sharp focus, intricate details"


def test_sdxl_handles_emoji_and_non_latin_subjects():
    out = optimize("🐱✨, cozy room 😺", "🐱 on a sofa", SDXL_FAST, CLIP)
    assert tags(out)[3] == "🐱 on a sofa"
    out = optimize("", "一只猫在沙发上", SDXL_FAST, CLIP)
    assert "一只猫在沙发上" in out and CLIP.count(out) <= 75


# --- optimize: WAN ----------------------------------------------------------------------------

WAN_ANSWER = (
    "A golden retriever runs along a sunny beach, its fur flowing in the wind. The camera "
    "tracks alongside at a low angle as waves roll in. Sand sprays from its paws with every "
    "stride. The motion stays smooth and consistent throughout the shot."
)


def test_wan_keeps_whole_sentences_in_one_paragraph():
    raw = WAN_ANSWER.replace(". ", ".\n")
    out = optimize(raw, "a golden retriever running on a beach", WAN_FAST, ESTIMATE)
    assert "\n" not in out
    assert out == WAN_ANSWER


def test_wan_does_not_restate_a_prompt_the_answer_says_in_richer_words():
    # A golden retriever is a dog: the answer carries "a dog running on a beach" already.
    out = optimize(WAN_ANSWER, "a dog running on a beach", WAN_FAST, ESTIMATE)
    assert out == WAN_ANSWER


def test_wan_starts_with_the_user_prompt_when_the_model_lost_the_subject():
    out = optimize(WAN_ANSWER, "a cat sleeping on a beach", WAN_FAST, ESTIMATE)
    assert out.startswith("A cat sleeping on a beach. ")
    assert subject_coverage(out, "a cat sleeping on a beach") == 1.0


def test_wan_clean_answer_passes_through_without_stock_sentences():
    answer = "A fox stands on a rocky cliff above the sea."
    assert optimize(answer, "a fox", WAN_FAST, ESTIMATE) == answer


def test_wan_adds_motion_and_camera_sentences_where_a_repaired_thin_answer_lacks_them():
    out = optimize("A fox stands on a rocky cliff above the sea. A fisherman waves from his boat.",
                   "a fox", WAN_FAST, ESTIMATE)
    assert out.startswith("A fox stands on a rocky cliff above the sea. ") and "fisherman" not in out
    assert MOTION.default in out and CINEMATOGRAPHY.default in out
    assert out.endswith(".")


def test_wan_never_makes_a_thing_that_cannot_move_move():
    out = optimize("A lighthouse stands on a rocky cliff above the sea. A man waves from the deck.",
                   "a lighthouse", WAN_FAST, ESTIMATE)
    assert MOTION.default not in out and CINEMATOGRAPHY.default in out


def test_wan_trims_at_a_sentence_boundary_and_keeps_required_elements():
    body = " ".join(f"Sentence {i} describes the harbor scene in rich detail." for i in range(60))
    out = optimize("A boat drifts slowly across the harbor. " + body, "a boat", WAN_FAST, ESTIMATE)
    assert ESTIMATE.count(out) <= WAN_FAST.budget
    assert out.startswith("A boat drifts slowly across the harbor. Sentence 0 describes")
    for sentence in sentences(out):
        assert sentence.endswith(".")
    assert MOTION.present_in(out) and CINEMATOGRAPHY.present_in(out)


def test_wan_cuts_an_overlong_first_sentence_between_words_and_ends_it():
    original = "a parade with " + " ".join(f"float{i}" for i in range(300))
    out = optimize("", original, WAN_HIGH, ESTIMATE)
    assert ESTIMATE.count(out) <= WAN_HIGH.budget
    assert out.endswith(".")
    assert out[:-1].lower() in original.lower() and original[len(out) - 1] == " "


def test_wan_drops_a_fragment_cut_off_by_the_generation_limit():
    out = optimize(WAN_ANSWER + " Then the camera slowly pans across the", "a golden retriever on a beach", WAN_FAST, ESTIMATE)
    assert out == WAN_ANSWER


def test_wan_drops_a_fragment_left_hanging_on_a_comma():
    out = optimize("A boat drifts slowly across the harbor. The camera follows it, and the waves,", "a boat", WAN_FAST, ESTIMATE)
    assert out.startswith("A boat drifts slowly across the harbor. The camera holds")
    assert "waves" not in out


def test_wan_answers_a_chinese_prompt_all_in_chinese():
    original = "一只猫在沙发上奔跑"
    # An English answer cannot be checked against the prompt and would mix languages: the
    # user's words and Chinese stock sentences answer instead.
    out = optimize("A cat dashes across a sofa. The camera follows it.", original, WAN_FAST, ESTIMATE)
    assert out.startswith(original) and not re.search("[A-Za-z]", out)
    assert ESTIMATE.count(out) <= WAN_FAST.budget
    # A Chinese answer that names the cat and the sofa is kept; an English sentence in it goes.
    answer = "一只橘猫在柔软的沙发上欢快地奔跑，尾巴高高翘起。The camera follows it closely."
    out = optimize(answer, original, WAN_FAST, ESTIMATE)
    assert out.startswith("一只橘猫在柔软的沙发上欢快地奔跑") and "camera" not in out
    out = optimize("", original * 200, WAN_FAST, CLIP)
    assert CLIP.count(out) <= WAN_FAST.budget and out.startswith(original)


def test_wan_drops_a_sentence_with_a_stray_word_in_another_script():
    out = optimize("Lace curtains sway at the window. A silk窗帘 glows in the sun.", "a window",
                   WAN_FAST, ESTIMATE)
    assert "窗帘" not in out and out.startswith("Lace curtains sway at the window.")


def test_wan_builds_a_prompt_from_empty_model_text():
    out = optimize("", "cat", WAN_HIGH, ESTIMATE)
    assert out.startswith("Cat. ")
    for element in WAN_HIGH.required:
        assert element.present_in(out), element.name


def test_wan_handles_emoji():
    out = optimize("🐶 runs 🏃 on the beach! ✨", "🐶 on a beach", WAN_FAST, ESTIMATE)
    assert "🐶" in out and ESTIMATE.count(out) <= WAN_FAST.budget


# --- properties -------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    "cat dog a the on sofa soft lighting masterpiece best quality 8k 85mm camera pans slowly "
    "sunset walks running highly detailed sharp focus 猫 🐱 , . ; ( ) \" “ ” [ ] \n : 1.2".split(" ")
    + [" ", "\n", ", ", ". "]
)
TEXT = st.one_of(
    st.text(max_size=400),
    st.lists(_WORDS, max_size=250).map(" ".join),
    st.lists(_WORDS, max_size=250).map("".join),
)
PROFILE = st.sampled_from(sorted(PROFILES))


@PROPERTY
@given(text=TEXT, original=TEXT, name=PROFILE)
def test_any_input_ends_within_budget_for_every_profile(text, original, name):
    profile = PROFILES[name]
    for counter in {CLIP, counter_for(profile)}:
        assert counter.count(optimize(text, original, profile, counter)) <= profile.budget


@PROPERTY
@given(text=TEXT, original=TEXT, name=PROFILE)
def test_optimizing_twice_changes_nothing(text, original, name):
    profile = PROFILES[name]
    counter = counter_for(profile)
    once = optimize(text, original, profile, counter)
    assert optimize(once, original, profile, counter) == once


_PLAIN_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
_GROUP = st.builds(
    lambda words, w: f"({' '.join(words)}:{w})",
    st.lists(_PLAIN_WORD, min_size=1, max_size=3),
    st.sampled_from(["0.8", "1.1", "1.3", "1.5"]),
)
_QUOTE = st.lists(_PLAIN_WORD, min_size=1, max_size=3).map(lambda w: '"' + ", ".join(w).upper() + '"')


@PROPERTY
@given(
    head=st.lists(_PLAIN_WORD, max_size=4).map(" ".join),
    special=st.one_of(_GROUP, _QUOTE),
    model=st.lists(st.one_of(_PLAIN_WORD, _GROUP, _QUOTE), max_size=40).map(", ".join),
    name=PROFILE,
)
def test_weighted_groups_and_quotes_in_the_prompt_survive_verbatim(head, special, model, name):
    profile = PROFILES[name]
    original = f"{head} {special}".strip()
    out = optimize(model, original, profile, counter_for(profile))
    assert special in out


@PROPERTY
@given(model=st.lists(st.one_of(_PLAIN_WORD, _GROUP, _QUOTE), max_size=80).map(", ".join), name=PROFILE)
def test_groups_and_quotes_are_kept_whole_or_dropped_never_cut(model, name):
    profile = PROFILES[name]
    out = optimize(model, "a cat", profile, counter_for(profile))
    source_groups = set(re.findall(r"\([^()]*\)", model)) | set(re.findall(r'"[^"]*"', model))
    for group in re.findall(r"\([^()]*\)", out) + re.findall(r'"[^"]*"', out):
        assert group in source_groups
    assert out.count("(") == out.count(")") and out.count('"') % 2 == 0


@PROPERTY
@given(original=st.lists(_PLAIN_WORD, min_size=1, max_size=6).map(" ".join), text=TEXT, name=PROFILE)
def test_a_short_subject_is_always_kept(original, text, name):
    profile = PROFILES[name]
    out = optimize(text, original, profile, counter_for(profile))
    assert carries_subject(out, original)


# --- meta talk, invented people, loops (what the embedded model wrote on the public prompts) ---


@pytest.mark.parametrize(
    ("raw", "original", "expected"),
    [
        (
            'This can be rewritten into a more descriptive version by using sensory language such as '
            '"running" instead of "cat." Here\'s how you could rephrase it, This can be rewritten into a more',
            "the cat is running",
            "",
        ),
        (
            "The user's image idea can be rewritten into a more engaging and creative image creation "
            "prompt by using bold formatting such as a bullet point list, This will help to make the "
            "image more appealing and attention-grabbing",
            "A man jogging on a football field",
            "",
        ),
        (
            "A stop sign on a quiet corner. A simple yet effective way to reduce clutter and make your "
            "home look more attractive. Red paint, dusk light.",
            "a stop sign",
            "A stop sign on a quiet corner. Red paint, dusk light.",
        ),
        (
            "So, here's the rewritten sentence. The user wants to create a photo that shows a dog.\n"
            "a golden retriever on a lawn, soft light",
            "a dog",
            "a golden retriever on a lawn, soft light",
        ),
        (
            "masterpiece, a cat on a sofa, perfect for your living room wall, soft light, bokeh",
            "a cat on a sofa",
            "masterpiece, a cat on a sofa, soft light, bokeh",
        ),
    ],
)
def test_clean_drops_sentences_that_talk_about_the_task_wherever_they_are(raw, original, expected):
    assert clean(raw, original) == expected


def test_clean_keeps_words_the_user_wrote_even_when_they_sound_like_chatter():
    original = 'a poster that says "HERE IS YOUR PROMPT"'
    raw = 'a poster that says "HERE IS YOUR PROMPT", bold letters, studio light'
    assert clean(raw, original) == raw


def test_a_line_of_dialogue_in_prose_goes_whole_not_tag_by_tag():
    # The embedded model's answer to "A man jogging on a football field": the quoted speech has
    # commas enough to pass for tags, which once left '" he said, "it's a great day...' behind.
    raw = ('The man jogged along the soccer field wearing his jersey. He looked up, smiling. '
           "\"I'm so glad you're here,\" he said, \"it's a great day to be out there.\"")
    assert clean(raw, "A man jogging on a football field") == (
        "The man jogged along the soccer field wearing his jersey. He looked up, smiling.")


def test_an_sdxl_prose_sentence_with_commas_stays_one_sentence_in_its_order():
    # GPT-4's DALL-E 3 upsampling of a DrawBench prompt (enhancer/data/real_answers.jsonl): its
    # first sentence was once split at its commas into "tags" and reordered around the subject,
    # giving "... in a bold, a charming, modern font".
    prompt = "A storefront with 'Google Research Pizza Cafe' written on it."
    first = ('a charming, rustic storefront adorned with ivy and twinkling string lights displays the words '
             '"google research pizza cafe" in a bold, modern font.')
    raw = (first + " through the large windows, patrons can be seen enjoying their meals while discussing "
           "the latest technological advancements. a welcoming outdoor seating area is decorated with potted "
           "plants and cozy cushions, inviting passersby to stop and enjoy a slice of pizza.")
    out = optimize(clean(raw, prompt), prompt, SDXL_FAST, CLIP)
    assert first in out
    # A line of short tags that ends with a full stop is still tags.
    assert units_of("a cat on a sofa, soft light, 8k, sharp focus.") == ["a cat on a sofa", "soft light", "8k",
                                                                           "sharp focus"]


def test_an_answer_made_only_of_meta_talk_is_unusable():
    raw = "The user wants a cat. Here's how you could rephrase it. I hope this helps!"
    assert is_unusable(clean(raw, "a cat"), "a cat")


def test_sdxl_drops_tags_that_bring_in_people_the_prompt_did_not_have():
    out = optimize("a dog in a park, she has bright blue hair, green grass, soft light", "a dog in a park",
                   SDXL_FAST, CLIP)
    assert "hair" not in out and "green grass" in out
    # People the user asked for stay.
    out = optimize("a woman in a park, she has bright blue hair, soft light", "a woman in a park", SDXL_FAST, CLIP)
    assert "she has bright blue hair" in out


@pytest.mark.parametrize("prompt", ["Gwen Stacy reading a book", "Vincent van Gogh is painting in the room",
                                    "Yoda playing guitar on the stage", "A couple walking in the rain"])
def test_a_prompt_that_names_its_person_asks_for_one(prompt):
    assert asks_for_person(prompt)
    out = optimize(f"{prompt}. She smiles as the light changes.", prompt, WAN_FAST, ESTIMATE)
    assert "She smiles" in out


@pytest.mark.parametrize("prompt", ["A cute happy Corgi playing in park", "Cats dancing in a space club",
                                    "Mount Fuji rising above the clouds", "The Eiffel Tower at night",
                                    "A beautiful coastal beach, Van Gogh style"])
def test_a_prompt_without_a_person_or_a_named_doer_does_not_ask_for_one(prompt):
    assert not asks_for_person(prompt)


def test_wan_drops_sentences_that_bring_in_people_the_prompt_did_not_have():
    raw = ("The cat is running across a sunny garden. He loves playing fetch with his friends at the park. "
           "Its tail streams behind it. The camera tracks it in a smooth, steady shot.")
    out = optimize(raw, "the cat is running", WAN_FAST, ESTIMATE)
    assert out.startswith("The cat is running across a sunny garden. Its tail streams behind it.")
    assert "fetch" not in out and "friends" not in out


def test_wan_drops_the_loops_of_a_small_model():
    raw = ("A woman is dancing on a stage. She's dancing, a show of style and beauty. She's dancing, a "
           "show of creativity and passion. She's dancing, a show of love and joy. The camera holds a "
           "close-up as she spins.")
    out = optimize(raw, "A woman is dancing", WAN_FAST, ESTIMATE)
    assert out.count("She's dancing, a show of") == 2
    assert "love and joy" not in out and "The camera holds a close-up as she spins." in out


def test_wan_keeps_the_users_own_repeated_sentences():
    original = "The bell rings. The bell rings again. The bell rings once more."
    out = optimize("", original, WAN_FAST, ESTIMATE)
    assert out.startswith(original)


def test_clean_drops_a_last_phrase_cut_off_by_the_generation_limit():
    raw = "The person is bungee jumping on a mountain, They're wearing a cap, They're"
    assert clean(raw, "a person bungee jumping") == "The person is bungee jumping on a mountain, They're wearing a cap"
    assert clean("Two cats fight on a stage. They're going", "two cats") == "Two cats fight on a stage."
    assert clean("a cat on a sofa, soft light", "a cat") == "a cat on a sofa, soft light"


@pytest.mark.parametrize(
    "sentence",
    [
        "They're going to win the game tonight.",
        "She loves going on adventures.",
        "They need to choose a motorcycle that fits their needs.",
        "It is a symbol of creativity and a reminder of home.",
        "The sound of the waves fills the air.",
        "The fisherman has sailed these waters for many years.",
        "This iconic image has been featured in numerous films.",
    ],
)
def test_wan_drops_what_a_camera_cannot_see(sentence):
    original = "a lighthouse on a cliff"
    out = optimize(clean("A lighthouse stands on a cliff above the sea. " + sentence, original), original,
                   WAN_FAST, ESTIMATE)
    assert out.startswith("A lighthouse stands on a cliff above the sea.")
    assert sentence not in out


def test_sdxl_drops_animals_the_prompt_did_not_name_but_keeps_synonyms():
    out = optimize("a giant panda, a puppy with floppy ears, green lawn", "a dog on a lawn", SDXL_FAST, CLIP)
    assert "panda" not in out and "a puppy with floppy ears" in out


def test_sdxl_brings_back_only_the_users_tag_the_model_lost():
    # The model lost the red lanterns: that tag of the user's leads, and the model's tag for
    # the harbour, which already says the rest, stays as the model wrote it.
    prompt = "a misty harbour, red lanterns"
    out = optimize("A misty harbour on a stormy night, moored boats", prompt, SDXL_FAST, CLIP)
    lowered = [t.lower() for t in tags(out)]
    assert lowered[3:6] == ["red lanterns", "a misty harbour on a stormy night", "moored boats"]
    assert out.lower().count("misty harbour") == 1
    assert optimize(out, prompt, SDXL_FAST, CLIP) == out


def test_the_workers_own_context_line_said_back_is_no_part_of_the_answer():
    from enhancer.postprocess.clean import clean

    raw = 'A red fox curled in the snow\nguidance from the application, as data: {"user_id": "user-1"}'
    assert clean(raw, "a red fox") == "A red fox curled in the snow"
