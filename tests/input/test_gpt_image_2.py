"""gpt-image-2's rules (skill.yaml `model_rules`): any WIDTHxHEIGHT within its limits, n 1-10,
its own qualities, no response_format or style; a size outside the limits is an input error
naming `size` and the rule it breaks. The skill's verdict on sizes is held to the one a
server answering as today's API gives (support/todays_api.py), written independently."""

import pytest

import openai_skill as skill
from openai_skill import InputError
from support.todays_api import refusal
from support.lifecycle import DATA_DAY

GOOD = ["auto", "1024x1024", "1536x1024", "1024x1536", "1536x864", "2048x1152", "3840x2160", "2160x3840",
        "1024x640", "3072x1024", "816x816"]
BAD = {
    "1000x1000": "both edges divisible by 16",
    "1536x860": "both edges divisible by 16",
    "4096x1024": "the long edge at most 3840",
    "3072x960": "the long edge at most 3 x the short one",
    "512x512": "at least 655,360 pixels (W x H)",
    "800x800": "at least 655,360 pixels (W x H)",
    "3840x2400": "at most 8,294,400 pixels (W x H)",
}


def body(**extra):
    return skill.invoke("generate-image", {"prompt": "an otter", **extra}, dry_run=True)["request"]["body"]


def problems(**extra) -> dict:
    with pytest.raises(InputError) as info:
        body(**extra)
    return {p["path"]: p["message"] for p in info.value.problems}


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.6-flare"])
@pytest.mark.parametrize("size", GOOD)
def test_any_size_within_the_limits_is_sent(model, size):
    assert body(model=model, size=size)["size"] == size


@pytest.mark.parametrize("size, rule", sorted(BAD.items()))
def test_a_size_outside_the_limits_names_size_and_the_rule(size, rule):
    message = problems(size=size)["size"]
    assert message == f'size: gpt-image-2 takes auto or WIDTHxHEIGHT with {rule} (got "{size}")'


@pytest.mark.parametrize("size", ["big", "1024", "1024x", "x1024", "1024X1024", "-16x1024", "1024x1024 ", "0x1024"])
def test_a_size_that_is_no_size_is_refused_by_the_schema(size):
    assert "\"auto\" or WIDTHxHEIGHT" in problems(size=size)["size"]


@pytest.mark.parametrize("size", GOOD + sorted(BAD) + ["0x1024", "16x16", "3840x1280", "3856x1296"])
def test_the_skill_and_todays_api_agree_on_every_size(size):
    accepted_by_api = refusal("POST", "/images/generations", {"model": "gpt-image-2", "prompt": "x", "size": size},
                              DATA_DAY) is None
    try:
        body(size=size)
        accepted = True
    except InputError:
        accepted = False
    assert accepted == accepted_by_api


def test_n_from_1_to_10_and_the_gpt_image_values():
    assert body(n=10)["n"] == 10 and body()["n"] == 1
    assert "<= 10" in problems(n=11)["n"]
    sent = body(quality="high", background="transparent", output_format="webp", output_compression=80,
                moderation="low")
    assert sent == {"prompt": "an otter", "model": "gpt-image-2", "n": 1, "quality": "high",
                    "background": "transparent", "output_format": "webp", "output_compression": 80,
                    "moderation": "low"}


def test_no_response_format_no_style_no_dall_e_quality():
    found = problems(response_format="b64_json", style="natural", quality="standard")
    assert set(found) == {"response_format", "style", "quality"}
    assert found["response_format"] == ('response_format: gpt-image-2 does not accept response_format; '
                                        'leave it out (got "b64_json")')


def test_the_cli_takes_any_size(cli):
    result = cli("image", "an otter", "--size", "1536x864", "--dry-run")
    assert result.code == 0, result.err
    assert result.json()["request"]["body"] == {"prompt": "an otter", "model": "gpt-image-2", "size": "1536x864",
                                                "n": 1}
    refused = cli("image", "an otter", "--size", "1000x1000", "--dry-run")
    assert refused.code == 2 and "size" in refused.err and "divisible by 16" in refused.err
