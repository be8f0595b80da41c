"""The continuous-batching engine: scheduling and failures on a tiny random model (fast, and able to
fail on cue), output identity with plain `generate` on the real embedded model."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from enhancer.engine import ContinuousGenerator
from enhancer.model import REPETITION_PENALTY, DeviceLost, GenerationFailed, GenerationRequest, LoadedModel, ModelSource
from enhancer.profiles import PROFILES
from enhancer.service import build_messages
from enhancer.stopping import is_looping

SYSTEM = ("You rewrite short ideas into detailed prompts for an image model and answer with the prompt "
          "alone with no preamble and no explanation at all")
WORDS = sorted(set(SYSTEM.split()) | {"a", "cat", "dog", "red", "fox", "in", "the", "snow", "system", "user",
                                       "assistant", "lighthouse", "storm", "at", "night"})


@pytest.fixture(scope="module")
def tiny():
    """A two-layer random Llama and a word-level tokenizer with a chat template (nothing downloaded).
    End-of-sequence is off, so every request decodes its whole budget."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(special + WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>",
                                        eos_token="<|im_end|>")
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
        "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
    )
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(special) + len(WORDS), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config).eval()
    model.generation_config.eos_token_id = None
    return LoadedModel(model, tokenizer, ModelSource("random", "config", "tiny"), "cpu", "float32", 0.0)


def ask(idea: str, budget: int, seed: int | None = None, system: str = SYSTEM) -> GenerationRequest:
    return GenerationRequest((("system", system), ("user", idea)), budget, seed)


class ScriptedEngine(ContinuousGenerator):
    """The real engine, with a rule that can make any forward pass (a prefill or a decode step)
    raise, given the rows it serves."""

    def __init__(self, loaded, rule=lambda rows, prefill: None, stop_loops: bool = False, **options):
        super().__init__(loaded, max_batch_size=8, stop_loops=stop_loops, **options)  # off: every row runs its budget
        self.rule = rule
        self.prefills: list[int] = []
        self.steps: list[int] = []
        self._prefilling = None
        decode_step = self.decoder.step

        def scripted_step(batch, width):
            self._check(list(self._rows), prefill=False)
            return decode_step(batch, width)

        self.decoder.step = scripted_step
        prefill_forward = self.prefiller.forward

        def scripted_forward(*args):
            if self._prefilling is not None:  # not a system prompt prefilled at start-up
                self._check([self._prefilling], prefill=True)
            return prefill_forward(*args)

        self.prefiller.forward = scripted_forward

    def _check(self, rows, prefill: bool) -> None:
        (self.prefills if prefill else self.steps).append(len(rows))
        failure = self.rule(rows, prefill)
        if failure is not None:
            raise failure

    def _prefill(self, row):
        self._prefilling = row
        try:
            return super()._prefill(row)
        finally:
            self._prefilling = None


def seeds_in(rows):
    return {row.request.seed for row in rows}


def test_a_short_request_joins_a_running_long_one_and_leaves_first(tiny):
    engine = ScriptedEngine(tiny)

    async def scenario():
        long = asyncio.ensure_future(engine.generate(ask("a red fox in the snow", 400)))
        while engine.steps_run < 3:
            await asyncio.sleep(0.001)
        short = await engine.generate(ask("a cat", 5))
        return short, long.done(), await long

    short, long_done_when_short_ended, long = asyncio.run(scenario())
    assert not long_done_when_short_ended
    assert len(tiny.tokenizer(short, add_special_tokens=False)["input_ids"]) <= 5
    assert engine.shared_steps >= 4  # the short row's decode steps ran beside the long one
    assert max(engine.steps) == 2
    engine.shutdown()


def test_each_row_decodes_as_it_would_alone(tiny):
    engine = ScriptedEngine(tiny)
    requests = [ask("a cat", 12, seed=1), ask("a red fox in the snow at night", 30, seed=2), ask("a dog", 7)]
    alone = [engine.generate_batch([r])[0] for r in requests]
    assert engine.generate_batch(requests) == alone
    engine.shutdown()


def test_a_system_prompt_is_prefilled_once_and_shared(tiny):
    engine = ScriptedEngine(tiny)
    engine.generate_batch([ask("a cat", 3), ask("a dog", 3), ask("a red fox", 3)])
    assert engine.prefix_hits == 2
    assert engine.prefills[0] == 1 and len(engine.prefills) == 4  # the shared prefix, then each row's own
    engine.generate_batch([ask("a cat", 3, system="a short one")])  # too short to be worth sharing
    assert engine.prefix_hits == 2
    engine.shutdown()


def test_a_system_prompt_prefilled_at_start_up_is_not_prefilled_again(tiny):
    engine = ScriptedEngine(tiny)
    assert engine.warm_up([SYSTEM, SYSTEM]) >= 0 and engine.prefix_hits == 0
    engine.generate_batch([ask("a cat", 3)])
    assert engine.prefix_hits == 1 and engine.prefills == [1]  # the row's own part only
    engine.shutdown()


def test_a_row_stuck_in_a_loop_ends_there_and_the_others_run_on(tiny):
    requests = [ask("a cat", 200), ask("a red fox in the snow at night", 200), ask("a dog", 40)]
    full = ScriptedEngine(tiny).generate_batch(requests)
    loops = [is_looping(tiny.tokenizer(text, add_special_tokens=False)["input_ids"]) for text in full]
    assert any(loops[:2]), "the random model should loop within 200 tokens"
    engine = ScriptedEngine(tiny, stop_loops=True)
    stopped = engine.generate_batch(requests)
    for whole, cut, looped in zip(full, stopped, loops):
        if looped:
            assert whole.startswith(cut) and len(cut) < len(whole)
            assert is_looping(tiny.tokenizer(cut, add_special_tokens=False)["input_ids"])
        else:
            assert cut == whole
    engine.shutdown()


def test_shutdown_waits_for_the_engine_thread_to_end(tiny):
    # A process that exits while that thread is inside a torch call can abort.
    engine = ScriptedEngine(tiny)
    engine.generate_batch([ask("a cat", 3)])
    thread = engine._thread
    assert thread.is_alive()
    engine.shutdown()
    assert not thread.is_alive()
    assert isinstance(engine.generate_batch([ask("a dog", 3)])[0], GenerationFailed)


def test_a_failing_row_does_not_fail_the_others(tiny):
    def bad_row_in_a_step(rows, prefill):
        return ValueError("bad row") if not prefill and 2 in seeds_in(rows) else None

    engine = ScriptedEngine(tiny, bad_row_in_a_step)
    results = engine.generate_batch([ask("a cat", 6, seed=s) for s in range(4)])
    assert isinstance(results[2], GenerationFailed)
    assert all(isinstance(results[i], str) for i in (0, 1, 3))
    engine.shutdown()


def test_out_of_memory_runs_the_rows_in_halves_and_loses_nothing(tiny):
    requests = [ask("a cat", 6, seed=s) for s in range(8)]
    expected = ScriptedEngine(tiny).generate_batch(requests)

    def oom_above_two_rows(rows, prefill):
        return RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB") if len(rows) > 2 else None

    engine = ScriptedEngine(tiny, oom_above_two_rows)
    assert engine.generate_batch(requests) == expected
    assert max(engine.steps) > 2 and engine.steps[-1] <= 2  # it ran out of memory, then ran in halves


def test_a_single_request_still_out_of_memory_after_a_retry_fails_alone(tiny):
    engine = ScriptedEngine(tiny, lambda rows, prefill: None if prefill else RuntimeError("CUDA out of memory"))
    [result] = engine.generate_batch([ask("a cat", 6)])
    assert isinstance(result, GenerationFailed) and engine.steps == [1, 1]
    assert engine.generate_batch([ask("a dog", 1)])[0] is not None  # still serving


def test_a_cuda_error_that_breaks_the_device_is_reported_as_device_lost(tiny):
    engine = ScriptedEngine(tiny, lambda rows, prefill: None if prefill else RuntimeError(
        "CUDA error: an illegal memory access was encountered"))
    results = engine.generate_batch([ask("a cat", 6), ask("a dog", 6)])
    assert all(isinstance(r, DeviceLost) for r in results)


class EagerGraph:
    """A stand-in for a bucket's CUDA graph on a CPU: what the graph replays, run eagerly (the step at
    the bucket's batch and the slot's full width), optionally with every row pushed to one token."""

    def __init__(self, decoder, batch: int, replays: list[int], forced_token: int | None = None) -> None:
        self.decoder, self.batch, self.replays, self.forced_token = decoder, batch, replays, forced_token

    def replay(self) -> None:
        self.decoder.run(self.batch, self.decoder.cache.capacity)
        self.replays.append(self.batch)
        if self.forced_token is not None:
            self.decoder.logits[:, self.forced_token] += 1e4


def stand_in_capture(engine, replays: list[int], forced_token: int | None = None):
    def capture(buckets):
        engine.decoder.graphs = {b: EagerGraph(engine.decoder, b, replays, forced_token) for b in buckets}
        engine.decoder.use_graphs = True
        return 0.25

    return capture


MIXED = [ask("a cat", 12, seed=1), ask("a red fox in the snow at night", 30), ask("a dog", 7, seed=3),
         ask("the lighthouse in the storm", 19), ask("a red cat", 3)]


def test_graphs_that_decode_as_the_eager_step_are_kept_and_serve_each_batch_from_its_bucket(tiny):
    eager = ScriptedEngine(tiny).generate_batch(MIXED)
    engine, replays = ScriptedEngine(tiny), []
    status = engine.enable_graphs(stand_in_capture(engine, replays))
    assert status == {"on": True, "buckets": [1, 2, 4, 8], "capture_seconds": 0.25, "reason": None}
    assert engine.steps_run == 0 and engine.rows_run == 0  # the self-check is not counted as requests
    replays.clear()
    assert engine.generate_batch(MIXED) == eager
    # 5 rows run in the bucket of 8, then 4, 2 and 1 as they end; never the eager step
    assert set(replays) == {8, 4, 2, 1} and replays[0] == 8 and replays[-1] == 1
    engine.shutdown()


def test_graphs_that_decode_other_tokens_than_the_eager_step_stay_off_and_say_why(tiny):
    engine, replays = ScriptedEngine(tiny), []
    status = engine.enable_graphs(stand_in_capture(engine, replays, forced_token=7))
    assert status["on"] is False and status["reason"].startswith("self-check: row 0 of 8 decoded")
    assert replays  # the graphs ran in the self-check
    replays.clear()
    assert engine.generate_batch(MIXED) == ScriptedEngine(tiny).generate_batch(MIXED)
    assert replays == []  # the engine decodes eagerly
    engine.shutdown()


def test_a_capture_that_fails_leaves_the_graphs_off_and_the_engine_serving(tiny):
    def capture(buckets):
        raise RuntimeError("operation not permitted when stream is capturing")

    engine = ScriptedEngine(tiny)
    status = engine.enable_graphs(capture)
    assert status["on"] is False
    assert status["reason"] == "capture failed: RuntimeError: operation not permitted when stream is capturing"
    assert all(isinstance(text, str) for text in engine.generate_batch(MIXED))
    engine.shutdown()


def test_a_row_longer_than_the_slots_grows_them_and_decodes_as_it_would_in_roomy_ones(tiny):
    long_idea = " ".join(["a red fox in the snow at night"] * 6)
    requests = [ask("a cat", 20), ask(long_idea, 40, seed=4), ask("a dog", 9)]
    roomy = ScriptedEngine(tiny).generate_batch(requests)
    engine, replays = ScriptedEngine(tiny, slot_tokens=96), []  # the self-check's rows fit in 96
    assert engine.enable_graphs(stand_in_capture(engine, replays))["on"]
    replays.clear()
    assert engine.generate_batch(requests) == roomy
    assert replays == []  # grown buffers are not the graphs' own: those steps ran eagerly
    assert engine.generate_batch(requests[:1]) == roomy[:1] and replays  # graphs again once idle
    assert engine.decoder.cache.capacity == 96  # on the buffers the graphs were captured over
    engine.shutdown()


def test_rows_leaving_from_the_middle_of_the_batch_leave_the_others_untouched(tiny):
    requests = [ask(idea, budget, seed=seed) for idea, budget, seed in [
        ("a cat", 5, None), ("a dog", 40, 1), ("a red fox", 9, None), ("the snow at night", 33, 2),
        ("a lighthouse", 2, None), ("a storm at night", 17, 3), ("a red dog", 26, None), ("the cat", 11, 4)]]
    engine = ScriptedEngine(tiny)
    alone = [engine.generate_batch([r])[0] for r in requests]
    assert engine.generate_batch(requests) == alone
    engine.shutdown()


# -- the real embedded model ---------------------------------------------------------------------

def plain_generate(loaded, request: GenerationRequest, stop_loops: bool = True) -> str:
    """transformers' own generate, one prompt, the engine's settings."""
    import torch

    from enhancer.stopping import loop_stopping_criteria

    tokenizer = loaded.tokenizer
    messages = [{"role": role, "content": content} for role, content in request.messages]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer([text], return_tensors="pt", add_special_tokens=False)
    stopping = loop_stopping_criteria(encoded["input_ids"].shape[1]) if stop_loops else None
    with torch.inference_mode():
        output = loaded.model.generate(**encoded, max_new_tokens=request.max_new_tokens, do_sample=False,
                                       repetition_penalty=REPETITION_PENALTY, pad_token_id=tokenizer.pad_token_id,
                                       stopping_criteria=stopping)
    return tokenizer.decode(output[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)


def real(prompt: str, profile: str, budget: int, seed: int | None = None) -> GenerationRequest:
    return GenerationRequest(build_messages(prompt, PROFILES[profile], None, {}), budget, seed)


EIGHT = [("a cat", "sdxl_fast", 24), ("a lighthouse in a storm at night", "wan_fast", 32),
         ("two red apples", "sdxl_fast", 16), ("a fox in the snow", "sdxl_high", 28),
         ("a train crossing a bridge at dawn", "wan_high", 40), ("an old man reading", "sdxl_fast", 12),
         ("dancers on a stage", "wan_fast", 36), ("a bowl of soup", "sdxl_high", 20)]


@pytest.mark.e2e
def test_greedy_output_is_that_of_plain_generate_alone_and_in_a_batch_of_eight(service):
    generator = service.generator
    assert isinstance(generator, ContinuousGenerator)
    requests = [real(*row) for row in EIGHT]
    expected = [plain_generate(generator.loaded, r) for r in requests]
    assert [generator.generate_batch([r])[0] for r in requests] == expected
    assert generator.generate_batch(requests) == expected


def seeded_generate(loaded, request: GenerationRequest) -> str:
    """transformers' own sampling, one prompt, after torch.manual_seed(seed), no loop stop."""
    import torch

    from enhancer.model import SAMPLING

    tokenizer = loaded.tokenizer
    messages = [{"role": role, "content": content} for role, content in request.messages]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer([text], return_tensors="pt", add_special_tokens=False)
    sampling = {"temperature": request.temperature or SAMPLING["temperature"],
                "top_p": request.top_p or SAMPLING["top_p"]}
    torch.manual_seed(request.seed)
    with torch.inference_mode():
        output = loaded.model.generate(**encoded, max_new_tokens=request.max_new_tokens, do_sample=True,
                                       repetition_penalty=REPETITION_PENALTY, pad_token_id=tokenizer.pad_token_id,
                                       **sampling)
    return tokenizer.decode(output[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.e2e
def test_seeded_sampling_is_that_of_generate_with_the_seed_alone_and_beside_other_requests(service):
    engine = ContinuousGenerator(service.generator.loaded, max_batch_size=8, stop_loops=False)
    seeded = [real("a fox in the snow", "sdxl_fast", 24, seed=5), real("a cat", "wan_fast", 30, seed=11)]
    expected = [seeded_generate(engine.loaded, r) for r in seeded]
    assert [engine.generate_batch([r])[0] for r in seeded] == expected
    beside = engine.generate_batch([real("two red apples", "sdxl_fast", 20), seeded[0],
                                    real("a train at dawn", "wan_fast", 26, seed=2), seeded[1]])
    assert [beside[1], beside[3]] == expected
    # A strategy's own temperature and top-p, beside a request with the defaults.
    hotter = dataclasses.replace(seeded[0], temperature=1.3, top_p=0.95)
    assert engine.generate_batch([hotter, seeded[1]]) == [seeded_generate(engine.loaded, hotter), expected[1]]
    engine.shutdown()


@pytest.mark.e2e
def test_an_answer_stuck_in_a_loop_ends_early_and_is_finished_as_the_whole_one(service):
    """"a person is playing football" makes the embedded model say "He is wearing a helmet." over
    and over up to the budget; the engine stops a few copies in, and the cleaner, which keeps a
    sentence only once, makes the same prompt of both."""
    from enhancer.answer import finish

    generator, profile, prompt = service.generator, PROFILES["wan_fast"], "a person is playing football"
    request = real(prompt, "wan_fast", profile.max_new_tokens)
    whole = plain_generate(generator.loaded, request, stop_loops=False)
    loops_before = generator.loops_stopped
    stopped = generator.generate_batch([request])[0]
    assert generator.loops_stopped == loops_before + 1
    assert stopped == plain_generate(generator.loaded, request)
    tokens = generator.tokenizer(stopped, add_special_tokens=False)["input_ids"]
    assert whole.startswith(stopped) and len(tokens) < profile.max_new_tokens - 50
    counter = service._counter(profile)
    short, full = finish(stopped, prompt, profile, counter), finish(whole, prompt, profile, counter)
    assert (short.text, short.from_model) == (full.text, full.from_model)
