"""What `--replay` reports per answer and in its tables: the prompt words the worker lost, whether
the model's text survives (by text, not by label), what was dropped and why, SDXL pieces that do
not read alone, and answers sent through other job types than their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enhancer import eval as quality_eval
from enhancer import replay
from enhancer.answer import Answer
from enhancer.postprocess import Drop
from enhancer.replay import load_answers, replay_one
from enhancer.replay_checks import dangling_pieces
from enhancer.subject import missing_words
from enhancer.tokens import EstimateTokenCounter, clip_counter

CORPUS = Path(__file__).resolve().parent.parent / "enhancer" / "data" / "real_answers.jsonl"
COUNTERS = {"sdxl": clip_counter(), "wan": EstimateTokenCounter()}
NEW_FIELDS = {"missing_words", "lost_by_worker", "model_text_kept", "dropped", "dangling_pieces"}


def corpus_line(model: str, prompt: str) -> dict:
    matches = [line for line in load_answers(CORPUS) if line["model"].startswith(model) and line["prompt"] == prompt]
    assert len(matches) == 1, (model, prompt)
    return matches[0]


# Two long video answers (one of them in Chinese, for an English prompt) and a DALL-E 3 caption.
STOP_SIGN = corpus_line("Qwen2.5-3B", "In a still frame, a stop sign")
PANDA_IN_CHINESE = corpus_line("Qwen2.5-3B", "A panda playing on a swing set")
RED_CAR = corpus_line("GPT-4 (DALL-E 3", "A red colored car.")


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "answers.jsonl"
    lines = [STOP_SIGN, PANDA_IN_CHINESE, RED_CAR]
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    return path


def replay_json(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out.json"
    assert quality_eval.main(["--replay", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_an_answer_the_rules_wrote_is_reported_as_keeping_none_of_the_models_text():
    row = replay_one(PANDA_IN_CHINESE, "video_fast", COUNTERS)
    assert row.enhancement_source == "emergency_fallback"
    assert row.model_text_kept is False
    assert "other_language" in {d["reason"] for d in row.dropped}


def test_a_model_answer_that_passes_through_is_reported_as_keeping_the_models_text():
    row = replay_one(STOP_SIGN, "video_high", COUNTERS)
    assert row.enhancement_source == "worker_fallback" and row.model_text_kept is True


@pytest.mark.parametrize("job_type", ["sdxl_image_fast", "sdxl_image_high", "video_fast", "video_high"])
def test_missing_and_lost_words_follow_the_subject_rule(job_type):
    for line in (STOP_SIGN, PANDA_IN_CHINESE, RED_CAR):
        row = replay_one(line, job_type, COUNTERS)
        assert row.missing_words == missing_words(row.answer, row.prompt)
        assert set(row.lost_by_worker) <= set(row.missing_words)


def _finished_as(monkeypatch, answer: Answer) -> None:
    monkeypatch.setattr(replay, "finish", lambda *args: answer)


def test_a_prompt_word_the_model_carried_and_the_fit_dropped_is_lost_by_the_worker(monkeypatch):
    _finished_as(monkeypatch, Answer("a red sofa in a sunlit room", True, "a cat on a red sofa in a sunlit room",
                                     (Drop("a cat", "over_budget"),)))
    row = replay_one({"prompt": "a cat", "raw": "a cat on a red sofa", "job_type": "video_fast"}, "video_fast",
                     COUNTERS)
    assert row.missing_words == ["cat"] and row.lost_by_worker == ["cat"]
    assert row.dropped == [{"text": "a cat", "reason": "over_budget"}]
    assert row.model_text_kept is True


def test_a_prompt_word_the_model_never_carried_is_missing_but_not_lost_by_the_worker(monkeypatch):
    _finished_as(monkeypatch, Answer("a red sofa in a sunlit room", True, "a red sofa in a sunlit room"))
    row = replay_one({"prompt": "a cat", "raw": "a red sofa", "job_type": "video_fast"}, "video_fast", COUNTERS)
    assert row.missing_words == ["cat"] and row.lost_by_worker == []


def test_a_label_crediting_the_model_with_the_rules_text_is_counted(monkeypatch):
    _finished_as(monkeypatch, Answer("A cat. Details stay consistent from frame to frame.", True, "a red sofa"))
    row = replay_one({"prompt": "a cat", "raw": "a red sofa", "job_type": "video_fast"}, "video_fast", COUNTERS)
    assert row.enhancement_source == "worker_fallback" and row.model_text_kept is False
    summary = replay.summarize([row])
    assert summary["credited_without_model_text"] == 1 and summary["model_text_kept"] == 0


def test_job_types_send_a_video_answer_through_sdxl_instead_of_its_own(tmp_path, sample):
    rows = replay_json(tmp_path, str(sample), "--job-types", "sdxl_image_fast")["rows"]
    assert [(r["prompt"], r["job_type"]) for r in rows] == [
        (STOP_SIGN["prompt"], "sdxl_image_fast"), (PANDA_IN_CHINESE["prompt"], "sdxl_image_fast"),
        (RED_CAR["prompt"], "sdxl_image_fast"),
    ]
    assert rows[0]["answer"].startswith("masterpiece")  # SDXL's quality tags lead: the SDXL path ran


def test_job_types_win_over_both_tiers_and_keep_each_lines_order(tmp_path, sample):
    rows = replay_json(tmp_path, str(sample), "--both-tiers", "--job-types", "video_fast", "sdxl_image_high")["rows"]
    assert [r["job_type"] for r in rows] == ["video_fast", "sdxl_image_high"] * 3


def test_without_job_types_each_answer_goes_through_its_own(tmp_path, sample):
    rows = replay_json(tmp_path, str(sample))["rows"]
    assert [r["job_type"] for r in rows] == ["video_high", "video_high", "sdxl_image_fast"]


def test_the_json_carries_the_new_fields_and_counts(tmp_path, sample):
    payload = replay_json(tmp_path, str(sample), "--both-tiers")
    for row in payload["rows"]:
        assert NEW_FIELDS <= row.keys()
        assert all(d.keys() == {"text", "reason"} for d in row["dropped"])
    for summary in payload["summaries"].values():
        assert {"lost_by_worker", "missing_words", "model_text_kept", "credited_without_model_text",
                "dangling_pieces", "dropped"} <= summary.keys()
    assert payload["summaries"]["video_fast"]["dropped"].get("other_language", 0) >= 1


def test_each_table_shows_the_piece_check_of_its_family(sample, capsys):
    assert quality_eval.main(["--replay", str(sample), "--both-tiers"]) == 0
    tables = {t.split("\n", 1)[0]: t for t in capsys.readouterr().out.split("### ")[1:]}
    for job_type, table in tables.items():
        assert "| prompt word the model's text carried, lost by the worker |" in table
        assert "| model text kept (by text, not label) |" in table
        assert "| credited to the model but carrying none of its text |" in table
        assert "model text used" not in table
        video = job_type.startswith("video")
        assert ("| a model sentence cut into fragments (WAN) |" in table) == video
        assert ("| SDXL piece ending on a preposition, article, conjunction or possessive |" in table) != video


def test_show_lists_the_missing_words_and_the_drops(monkeypatch, capsys):
    long_drop = "a tabby cat curled up on the cushions " * 4
    _finished_as(monkeypatch, Answer("a red sofa", True, "a cat on a red sofa", (Drop(long_drop, "over_budget"),)))
    row = replay_one({"prompt": "a cat", "raw": "a cat on a red sofa", "job_type": "video_fast"}, "video_fast",
                     COUNTERS)
    [shown] = replay.failures([row])
    assert "lost by the worker ['cat']" in shown and "missing: cat" in shown
    assert "dropped over_budget: 'a tabby cat curled up on the cushions a tabby" in shown
    assert long_drop.strip() not in shown and "\u2026" in shown  # shortened


def test_wan_fragments_are_not_judged_on_sdxl_rows():
    row = replay_one(STOP_SIGN, "sdxl_image_fast", COUNTERS)
    assert row.fragments == []


@pytest.mark.parametrize(("answer", "dangling"), [
    ("a cat on a red sofa, sitting with", ["sitting with"]),
    ("masterpiece, a tabby cat, the cat's", ["the cat's"]),
    ("a dog, resting under, covered in", ["resting under", "covered in"]),
    ("a quiet harbour and", ["a quiet harbour and"]),
    ("a cat on a red sofa, soft light", []),
    ("a sign reading \"Keep to\", neon glow", []),  # the quoted text as written
    ("the camera zooms in, clouds drifting by, sunlight filters through", []),  # particles, not prepositions
])
def test_dangling_pieces_are_pieces_ending_on_a_word_that_waits_for_more(answer, dangling):
    assert dangling_pieces(answer) == dangling
