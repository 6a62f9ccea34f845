"""The price table as data: it matches its source (../shared/REFERENCE.md section 8), the docs
page generated from it, and no code carries a price of its own; costs are the table applied to
the usage an answer reports; worst cases bound a call from above before it is sent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support.ci import need_beside_repo
from openai_skill.manifest import load_manifest
from openai_skill.spend import cost_of, table, worst_case
from openai_skill.spend.estimate import PRIMING_TOKENS
from openai_skill.spend.prices import render_markdown

REPO = Path(__file__).resolve().parents[2]
PRICES = yaml.safe_load((REPO / "prices.yaml").read_text(encoding="utf-8"))
PAIR = re.compile(r"(?P<model>[a-z0-9][a-z0-9.\-]+) (?P<a>\d+\.\d\d)(?: in)?"
                  r"(?: / (?P<b>\d+\.\d\d)(?: \(3P\))?(?: cached)?)?"
                  r"(?: / (?P<c>\d+\.\d\d)(?: out)?)?")


def _reference_prices() -> dict:
    text = need_beside_repo(REPO.parent / "shared" / "REFERENCE.md", "REFERENCE.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("- **Prices**"))
    line = line.replace(", -3-large", ", text-embedding-3-large")  # the reference's shorthand
    found = {}
    for match in PAIR.finditer(line):
        numbers = [float(n) for n in match.group("a", "b", "c") if n]
        found[match.group("model")] = numbers
    return found


def test_every_chat_and_embedding_row_matches_the_reference():
    reference = _reference_prices()
    for model, row in PRICES["chat"].items():
        expected = [row["input"], row["cached_input"], row["output"]] if "cached_input" in row \
            else [row["input"], row["output"]]
        assert reference.get(model) == expected, model
    for model, row in PRICES["embeddings"].items():
        assert reference.get(model) == [row["input"]], model


def test_every_row_has_a_known_source_and_a_date():
    for section in ("chat", "embeddings", "images", "vision_max_tokens"):
        for model, row in PRICES[section].items():
            assert row["source"] in PRICES["sources"], model
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", row["as_of"]), model
            if "cached_input_source" in row:
                assert row["cached_input_source"] in PRICES["sources"]
    assert table().as_of == PRICES["as_of"] == "2026-12-02"


def test_every_action_names_its_price_section_in_skill_yaml():
    # skill.yaml says which section prices an action (no code maps action ids to prices): each
    # names a section the table has, or free; one that names none is unknown, never free.
    sections = {a.id: a.price for a in load_manifest().actions.values()}
    assert sections == {"chat-completion": "chat", "generate-image": "images", "list-models": "free",
                        "create-embedding": "embeddings"}
    assert all(PRICES[s] for s in sections.values() if s != "free")
    undeclared = cost_of("no-such-action", {"model": "gpt-4o"}, {"usage": {"prompt_tokens": 1}})
    assert undeclared.usd is None and "names no section of the price table" in undeclared.unknown
    assert worst_case("no-such-action", {"model": "gpt-4o"}).usd is None


def test_the_docs_page_is_generated_from_the_table():
    assert (REPO / "docs" / "prices.md").read_text(encoding="utf-8") == render_markdown(PRICES)


def test_no_code_carries_a_model_price_of_its_own():
    # A priced model id in the package's code would be a second table that drifts: the code
    # must read prices.yaml. (skill.yaml and its rules name models for other reasons.)
    models = [*PRICES["chat"], *PRICES["embeddings"], *PRICES["images"]]
    for path in (REPO / "skill" / "openai_skill" / "spend").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for model in models:
            assert f'"{model}"' not in text, (path.name, model)


# --- cost from usage -----------------------------------------------------------------------

def test_chat_cost_is_the_table_applied_to_the_usage():
    usage = {"prompt_tokens": 1000, "completion_tokens": 200, "prompt_tokens_details": {"cached_tokens": 400},
             "completion_tokens_details": {"reasoning_tokens": 150}}
    cost = cost_of("chat-completion", {"model": "gpt-6.2-sol"}, {"usage": usage})
    assert cost.usd == pytest.approx((600 * 2.00 + 400 * 0.10 + 200 * 10.00) / 1e6)
    assert cost.to_dict() == {"usd": 0.00324, "basis": "usage", "prices_as_of": "2026-12-02", "model": "gpt-6.2-sol",
                              "input_tokens": 1000, "cached_tokens": 400, "output_tokens": 200,
                              "reasoning_tokens": 150}


def test_an_unsourced_cached_price_charges_the_full_input_price():
    usage = {"prompt_tokens": 1000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 1000}}
    assert cost_of("chat-completion", {"model": "gpt-4o"}, {"usage": usage}).usd == pytest.approx(1000 * 2.50 / 1e6)


def test_long_context_doubles_input_and_raises_output_by_half():
    usage = {"prompt_tokens": 300_000, "completion_tokens": 1000}
    cost = cost_of("chat-completion", {"model": "gpt-6-luna"}, {"usage": usage})
    assert cost.usd == pytest.approx((300_000 * 0.10 * 2 + 1000 * 0.50 * 1.5) / 1e6)
    short = cost_of("chat-completion", {"model": "gpt-6-luna"}, {"usage": {"prompt_tokens": 272_000,
                                                                            "completion_tokens": 1000}})
    assert short.usd == pytest.approx((272_000 * 0.10 + 1000 * 0.50) / 1e6)


def test_batch_halves_the_cost_and_embeddings_and_images_use_their_rates():
    embed = cost_of("create-embedding", {"model": "text-embedding-3-large"}, {"usage": {"prompt_tokens": 10_000}},
                    batch=True)
    assert embed.usd == pytest.approx(10_000 * 0.13 / 1e6 * 0.5) and embed.to_dict()["batch"] is True
    usage = {"input_tokens": 50, "input_tokens_details": {"text_tokens": 40, "image_tokens": 10}, "output_tokens": 4160}
    image = cost_of("generate-image", {"model": "gpt-image-2"}, {"usage": usage})
    assert image.usd == pytest.approx((40 * 5.00 + 10 * 8.00 + 4160 * 30.00) / 1e6)


def test_unknown_is_null_with_a_reason_never_a_guess():
    unknown = cost_of("chat-completion", {"model": "gpt-4o-2024-08-06"}, {"usage": {"prompt_tokens": 1}})
    assert unknown.to_dict() == {"usd": None, "basis": "usage", "prices_as_of": "2026-12-02",
                                 "model": "gpt-4o-2024-08-06",
                                 "unknown": "model 'gpt-4o-2024-08-06' has no price in the table of 2026-12-02"}
    no_usage = cost_of("chat-completion", {"model": "gpt-4o"}, {})
    assert no_usage.usd is None and "no usage" in no_usage.unknown
    assert cost_of("list-models", {}, {}).to_dict() == {"usd": 0.0, "basis": "free", "prices_as_of": "2026-12-02"}


# --- worst case before sending -------------------------------------------------------------

def test_chat_worst_case_bounds_input_by_bytes_and_output_by_the_budget():
    params = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "héllo " * 100}], "max_tokens": 500}
    worst = worst_case("chat-completion", params)
    text_bytes = len(__import__("json").dumps(params, ensure_ascii=False).encode())
    assert worst.details == {"input_tokens_at_most": text_bytes + PRIMING_TOKENS, "output_tokens_at_most": 500}
    assert worst.usd == pytest.approx(((text_bytes + PRIMING_TOKENS) * 0.15 + 500 * 0.60) / 1e6)
    # The real cost of any answer within the budget is below it.
    real = cost_of("chat-completion", params, {"usage": {"prompt_tokens": 120, "completion_tokens": 500}})
    assert real.usd < worst.usd


def test_reasoning_budget_default_and_max_completion_tokens():
    # With no budget named, a reasoning model's is the one skill.yaml's rule gives it by default
    # (25,000: OpenAI's reasoning guide); a model with no default budget cannot be bounded.
    params = {"model": "gpt-6.2-sol", "messages": [{"role": "user", "content": "x"}]}
    assert worst_case("chat-completion", params).details["output_tokens_at_most"] == 25_000
    params["max_completion_tokens"] = 4000
    assert worst_case("chat-completion", params).details["output_tokens_at_most"] == 4000
    unbounded = worst_case("chat-completion", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert unbounded.usd is None and "no output token budget" in unbounded.unknown


def test_a_prepared_call_is_bounded_by_the_budget_it_sends(key):
    # What `invoke` prices: the request after the schema's and the rules' defaults.
    from openai_skill.client import Client

    for model, budget in (("gpt-4o-mini", 1024), ("gpt-6-luna", 25_000)):
        params = Client().prepare("chat-completion", {"model": model, "messages": [{"role": "user", "content": "x"}]}
                                  ).params
        worst = worst_case("chat-completion", params)
        assert worst.details["output_tokens_at_most"] == budget, model


def test_image_parts_count_at_the_documented_maximum_and_file_parts_are_unpriced():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}
    params = {"model": "gpt-4o", "max_tokens": 10,
              "messages": [{"role": "user", "content": [{"type": "text", "text": "what is it"}, image, image]}]}
    worst = worst_case("chat-completion", params)
    assert 2 * 1445 < worst.details["input_tokens_at_most"] < 2 * 1445 + 400  # the base64 is not counted as text
    assert worst_case("chat-completion", {**params, "model": "gpt-6-luna"}).usd is None
    params["messages"][0]["content"] = [{"type": "file", "file": {"file_id": "file-abc"}}]
    unpriced = worst_case("chat-completion", params)
    assert unpriced.usd is None and "'file'" in unpriced.unknown


def test_images_by_size_quality_and_n_and_embeddings_by_bytes():
    base = {"model": "gpt-image-2", "prompt": "a cat"}
    assert worst_case("generate-image", {**base, "size": "1024x1024", "quality": "low", "n": 3}).usd == \
        pytest.approx(3 * 0.006 + 5 * 5.00 / 1e6)
    assert worst_case("generate-image", {**base, "size": "auto"}).usd == \
        pytest.approx(0.211 * 8_294_400 / 1024 / 1024 + 5 * 5.00 / 1e6)  # quality auto = high, the largest size
    assert worst_case("generate-image", base).usd == worst_case("generate-image", {**base, "size": "auto"}).usd
    worst = worst_case("create-embedding", {"model": "text-embedding-3-small", "input": ["ab", "ça", [1, 2, 3]]})
    assert worst.details == {"input_tokens_at_most": 2 + 3 + 3}
    assert worst_case("create-embedding", {"model": "text-embedding-3-small", "input": "x"}, batch=True).usd == \
        pytest.approx(0.02 / 1e6 * 0.5)


def _bytes_bound(params: dict, vision_tokens: int) -> int:
    """The rule as written: the request's JSON with every image part set apart, in bytes, plus
    the priming allowance and each image at its maximum."""
    import json

    text = {k: v for k, v in params.items() if k != "messages"}
    images = 0
    text["messages"] = []
    for message in params.get("messages") or ():
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            parts = [p for p in message["content"] if p.get("type") == "text"]
            images += len(message["content"]) - len(parts)
            message = {**message, "content": parts}
        text["messages"].append(message)
    return len(json.dumps(text, ensure_ascii=False).encode()) + PRIMING_TOKENS + images * vision_tokens


def test_the_chat_input_bound_is_the_bytes_rule_whatever_the_shape_of_the_messages():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.text(max_size=12)
    part = st.one_of(st.builds(lambda t: {"type": "text", "text": t}, words),
                     st.builds(lambda u: {"type": "image_url", "image_url": {"url": u}}, words))
    content = st.one_of(words, st.none(), st.lists(part, max_size=3))
    message = st.one_of(st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["user", "system"]), content),
                        words)
    messages = st.one_of(st.lists(message, max_size=3), st.none(), st.just(()))
    extra = st.dictionaries(st.sampled_from(["temperature", "user", "stop"]), words, max_size=2)
    vision = table().vision["gpt-4o"]["tokens"]

    @settings(max_examples=300, deadline=None)
    @given(messages, extra, st.booleans(), st.booleans())
    def check(msgs, more, has_messages, messages_first):
        params = {"model": "gpt-4o", **more, "max_tokens": 10}
        if has_messages:
            params = {"messages": msgs, **params} if messages_first else {**params, "messages": msgs}
        worst = worst_case("chat-completion", params)
        assert worst.details["input_tokens_at_most"] == _bytes_bound(params, vision)

    check()
