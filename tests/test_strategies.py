"""The strategies file (enhancer/strategies.py): validation, selection, experiment arms."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from enhancer import strategies
from enhancer.profiles import resolve_profile

FILE = {
    "strategies": {
        "terse": {"system_prompt": {"sdxl": "Write terse tags.", "wan": "Write two sentences."}, "strength": "light",
                  "sampling": "greedy", "negative_prompt": False, "stock_phrases": True},
        "vivid": {"system_prompt": {"sdxl_high": "Write vivid tags."}, "sampling": {"temperature": 0.8, "top_p": 0.9}},
        "auto": {"selector": [{"when": {"style": "anime"}, "use": "vivid"}, {"use": "terse"}]},
    },
    "experiments": {"tone": {"arms": {"terse": 1, "vivid": 1}, "key": "context.user_id", "default": True}},
}


def write(tmp_path, content) -> str:
    path = tmp_path / "strategies.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def test_the_contracts_example_file_loads_beside_the_built_in_default(tmp_path):
    catalogue = strategies.load(write(tmp_path, FILE))
    assert catalogue.warning is None and sorted(catalogue.strategies) == ["auto", "default", "terse", "vivid"]
    assert catalogue.default_experiment == "tone"


def test_no_file_serves_the_built_in_default_alone():
    catalogue = strategies.load(None)
    choice = catalogue.choose("a cat", {})
    assert (choice.strategy, choice.template, choice.experiment, choice.arm) == ("default", "default", None, None)
    assert catalogue.warning is None


@pytest.mark.parametrize("change, problem", [
    (lambda f: f["strategies"]["terse"].update(strength="max"), "strategies.terse.strength: Input should be"),
    (lambda f: f["strategies"]["vivid"]["sampling"].update(top_p=1.5), "strategies.vivid.sampling.Sampling.top_p"),
    (lambda f: f["strategies"]["terse"]["system_prompt"].update(sdxl_medium="x"), "unknown target 'sdxl_medium'"),
    (lambda f: f["strategies"]["auto"]["selector"][0].update(use="nope"),
     "strategies.auto.selector.0.use: unknown strategy 'nope'"),
    (lambda f: f["strategies"]["auto"]["selector"][0]["when"].update(style="vaporwave"),
     "style must be one of photo, anime, painting, 3d, none (got 'vaporwave')"),
    (lambda f: f["experiments"]["tone"]["arms"].update(ghost=1), "experiments.tone.arms.ghost: unknown strategy"),
    (lambda f: f["experiments"]["tone"].update(key="user"), "experiments.tone.key: must be 'prompt' or 'context.<field>'"),
    (lambda f: f["strategies"]["auto"].update(strength="rich"), "a selector strategy only selects"),
    (lambda f: f.update(extra=1), "extra: Extra inputs are not permitted"),
])
def test_a_bad_file_leaves_default_serving_and_names_the_problems_path(tmp_path, change, problem):
    bad = json.loads(json.dumps(FILE))
    change(bad)
    catalogue = strategies.load(write(tmp_path, bad))
    assert sorted(catalogue.strategies) == ["default"] and catalogue.warning.endswith("; serving default")
    assert problem in catalogue.warning, catalogue.warning


def test_a_file_that_is_not_json_or_is_missing_says_so(tmp_path):
    assert "not JSON (line 1, column 17" in strategies.load(write(tmp_path, '{"strategies": {')).warning
    assert "cannot be read" in strategies.load(str(tmp_path / "missing.json")).warning


def test_the_same_key_gets_the_same_arm_and_the_weights_split_the_traffic(tmp_path):
    catalogue = strategies.load(write(tmp_path, FILE))
    arms = Counter(catalogue.choose("a cat", {"user_id": n}).arm for n in range(2000))
    assert set(arms) == {"terse", "vivid"} and abs(arms["terse"] - 1000) < 120
    # The arm follows the user, whatever the prompt; without the key, it follows the prompt.
    assert {catalogue.choose(p, {"user_id": 42}).arm for p in ("a cat", "a dog", "a ship")} == \
        {catalogue.choose("a cat", {"user_id": 42}).arm}
    assert catalogue.choose("A  Cat", {}).arm == catalogue.choose("a cat", {}).arm


def test_an_arm_is_a_pure_function_of_the_experiment_and_the_key():
    experiment = strategies.Experiment(arms={"a": 3, "b": 1})
    picks = Counter(strategies.assign("exp", experiment, f"prompt {n}", {}) for n in range(4000))
    assert abs(picks["a"] / 4000 - 0.75) < 0.03
    assert strategies.assign("exp", experiment, "x", {}) == strategies.assign("exp", experiment, "x", {})


def test_a_selector_names_the_template_that_ran_and_a_named_strategy_is_outside_the_experiment(tmp_path):
    catalogue = strategies.load(write(tmp_path, FILE))
    anime = catalogue.choose("an anime girl under cherry blossoms", {}, strategy="auto")
    assert (anime.strategy, anime.template, anime.experiment) == ("auto", "vivid", None)
    assert catalogue.choose("a lighthouse", {}, strategy="auto").template == "terse"
    assert catalogue.choose("a lighthouse", {}, strategy="terse").settings.strength == "light"


def test_an_unknown_strategy_or_experiment_lists_the_known_ones(tmp_path):
    catalogue = strategies.load(write(tmp_path, FILE))
    with pytest.raises(strategies.UnknownName, match="strategy: unknown 'loud'; known: auto, default, terse, vivid"):
        catalogue.choose("a cat", {}, strategy="loud")
    with pytest.raises(strategies.UnknownName, match="experiment: unknown 'colour'; known: tone"):
        catalogue.choose("a cat", {}, experiment="colour")


def test_a_profiles_own_system_prompt_wins_over_its_familys(tmp_path):
    vivid = strategies.Strategy(system_prompt={"sdxl": "family", "sdxl_high": "profile"})
    assert vivid.system_prompt_for(resolve_profile("sdxl_image_high")) == "profile"
    assert vivid.system_prompt_for(resolve_profile("sdxl_image_fast")) == "family"
    assert vivid.system_prompt_for(resolve_profile("video_fast")) is None


@pytest.mark.parametrize("prompt, expected", [
    ("a photo of a tabby cat", {"style": "photo", "content": "animal", "language": "en", "length": "short"}),
    ("an oil painting of mountains at sunset", {"style": "painting", "content": "landscape"}),
    ("a 3d render of a robot", {"style": "3d", "content": "object"}),
    ("anime girl with a sword", {"style": "anime", "content": "person"}),
    ("\u4e00\u53ea\u732b\u5728\u8349\u5730\u4e0a", {"language": "zh", "content": "animal"}),
    ("a red bicycle leaning on a wall beside a blue door under a window with flowers in a pot and a cat "
     "sleeping on the step in the afternoon sun", {"length": "long"}),
])
def test_the_prompts_features_for_a_selector(prompt, expected):
    found = strategies.features(prompt)
    assert {k: found[k] for k in expected} == expected
