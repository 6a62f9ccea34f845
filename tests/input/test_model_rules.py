"""Each default and each model rule from skill.yaml, checked on the request that would be sent.

Requests go to api.openai.com unless a test says otherwise (there every model is sent
max_completion_tokens). Rules for models OpenAI has shut down are checked on a server that
still lists them (`serve`), as a gateway or dedicated capacity would."""

import pytest

import openai_skill as skill
from openai_skill import InputError
from support.lifecycle import serve
from support.openai_data import HI

GATEWAY = "http://127.0.0.1:9/v1"   # another origin: never contacted (dry runs)


def body(action, data):
    return skill.invoke(action, data, dry_run=True)["request"]["body"]


def chat(**extra):
    return body("chat-completion", {"messages": HI, **extra})


def image(**extra):
    return body("generate-image", {"prompt": "a lighthouse at dawn", **extra})


def problems(action, data):
    with pytest.raises(InputError) as info:
        skill.invoke(action, data, dry_run=True)
    return {p["path"]: p["message"] for p in info.value.problems}


# --- defaults from the seed -------------------------------------------------------------

def test_chat_defaults_are_the_seeds_model_and_budget():
    # temperature 1.0 is the API's own default: not sent; the budget under the name every
    # current model on api.openai.com accepts
    assert chat() == {"messages": HI, "model": "gpt-4o-mini", "max_completion_tokens": 1024}


def test_chat_defaults_to_another_origin_keep_max_tokens():
    sent = skill.invoke("chat-completion", {"messages": HI}, dry_run=True, base_url=GATEWAY)["request"]["body"]
    assert sent == {"messages": HI, "model": "gpt-4o-mini", "max_tokens": 1024}


def test_image_defaults_are_gpt_image_2_and_the_apis_own():
    # the seed's dall-e-3 and its DALL-E defaults are gone (README: From the seed page)
    assert image() == {"prompt": "a lighthouse at dawn", "model": "gpt-image-2", "n": 1}


def test_embedding_default_model():
    assert body("create-embedding", {"input": "hello"}) == {"input": "hello", "model": "text-embedding-3-small"}


def test_list_models_sends_no_body():
    request = skill.invoke("list-models", {}, dry_run=True)["request"]
    assert request["method"] == "GET" and request["url"].endswith("/v1/models") and "body" not in request


def test_explicit_values_win_over_defaults():
    assert chat(model="gpt-4o", max_tokens=5, temperature=0.2) == {
        "messages": HI, "model": "gpt-4o", "max_completion_tokens": 5, "temperature": 0.2}


# --- temperature: the seed says string, the API says number ------------------------------

@pytest.mark.parametrize("given, sent", [("0.7", 0.7), ("2", 2), (" 1.5 ", 1.5), (".5", 0.5), (0.3, 0.3)])
def test_temperature_string_is_sent_as_number(given, sent):
    assert chat(temperature=given)["temperature"] == sent
    assert isinstance(chat(temperature=given)["temperature"], (int, float))


@pytest.mark.parametrize("given", ["2.5", "hot", "-1", "", 2.01, -0.1])
def test_temperature_out_of_range_is_refused(given):
    assert "temperature" in problems("chat-completion", {"messages": HI, "temperature": given})


# --- reasoning models ---------------------------------------------------------------------

@pytest.mark.parametrize("model", ["o1", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1",
                                   "o3-2025-04-16", "o1-preview", "gpt-6-luna", "gpt-6.2-sol"])
def test_reasoning_models_get_max_completion_tokens_and_no_default_temperature(model):
    serve(model)
    serve(model, origin="http://127.0.0.1:9")
    for sent in (chat(model=model), skill.invoke("chat-completion", {"messages": HI, "model": model},
                                                 dry_run=True, base_url=GATEWAY)["request"]["body"]):
        assert sent["max_completion_tokens"] == 25000  # room for reasoning as well as the answer
        assert "max_tokens" not in sent and "temperature" not in sent


def test_reasoning_model_explicit_max_tokens_is_renamed():
    sent = chat(model="o3", max_tokens=77)
    assert sent["max_completion_tokens"] == 77 and "max_tokens" not in sent


@pytest.mark.parametrize("model", ["o1", "o3", "o4-mini", "gpt-5"])
def test_reasoning_models_accept_temperature_one_only(model):
    serve(model)
    assert chat(model=model, temperature=1)["temperature"] == 1
    assert chat(model=model, temperature="1.0")["temperature"] == 1
    msg = problems("chat-completion", {"messages": HI, "model": model, "temperature": 0.2})["temperature"]
    assert model in msg and "0.2" in msg and "1" in msg


def test_o3_mini_rejects_any_temperature():
    serve("o3-mini")
    msg = problems("chat-completion", {"messages": HI, "model": "o3-mini", "temperature": 1})["temperature"]
    assert "o3-mini does not accept temperature" in msg


@pytest.mark.parametrize("model", ["o3", "o4-mini", "o4-mini-2025-04-16"])
def test_o3_and_o4_mini_reject_stop(model):
    serve(model)
    assert "stop" in problems("chat-completion", {"messages": HI, "model": model, "stop": "END"})


def test_non_reasoning_model_keeps_stop_and_temperature():
    assert chat(model="gpt-4.1-mini", stop=["END"], temperature=0)["stop"] == ["END"]


def test_max_completion_tokens_replaces_default_max_tokens():
    sent = chat(max_completion_tokens=10)
    assert sent["max_completion_tokens"] == 10 and "max_tokens" not in sent
    sent = chat(model="gpt-6-luna", max_completion_tokens=10)  # not the reasoning default either
    assert sent["max_completion_tokens"] == 10 and "max_tokens" not in sent


def test_max_tokens_and_max_completion_tokens_together_is_an_error():
    assert "max_completion_tokens" in problems(
        "chat-completion", {"messages": HI, "max_tokens": 5, "max_completion_tokens": 10})


def test_unknown_chat_model_gets_generic_checks_only():
    # on api.openai.com every current model takes max_completion_tokens; elsewhere an unknown
    # model keeps max_tokens (older compatible servers know only that name)
    assert chat(model="my-finetune") == {"messages": HI, "model": "my-finetune", "max_completion_tokens": 1024}
    assert skill.invoke("chat-completion", {"messages": HI, "model": "my-finetune"}, dry_run=True,
                        base_url=GATEWAY)["request"]["body"] == {"messages": HI, "model": "my-finetune",
                                                                "max_tokens": 1024}


# --- image models -------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2",
                                   "gpt-image-2.6-flare"])
def test_gpt_image_models_get_none_of_the_dalle_defaults(model):
    serve(model)
    assert image(model=model) == {"prompt": "a lighthouse at dawn", "model": model, "n": 1}


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-2"])
def test_gpt_image_accepts_its_own_values(model):
    serve(model)
    sent = image(model=model, size="1536x1024", quality="high", n=4, output_format="webp",
                 background="transparent")
    assert sent["size"] == "1536x1024" and sent["quality"] == "high" and sent["n"] == 4


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-2"])
@pytest.mark.parametrize("field, value", [("style", "vivid"), ("response_format", "url"),
                                          ("response_format", "b64_json"), ("quality", "standard"),
                                          ("quality", "hd"), ("size", "1792x1024"), ("size", "256x256")])
def test_gpt_image_rejects_dalle_only_values(model, field, value):
    if (model, value) == ("gpt-image-2", "1792x1024"):
        value = "1792x1000"  # 1792x1024 is within gpt-image-2's limits; 1000 is no multiple of 16
    serve(model)
    msg = problems("generate-image", {"prompt": "x", "model": model, field: value})[field]
    assert model in msg and value in msg


def test_dalle3_takes_one_image_only():
    serve("dall-e-3")
    msg = problems("generate-image", {"prompt": "x", "model": "dall-e-3", "n": 2})["n"]
    assert "dall-e-3" in msg and "2" in msg


@pytest.mark.parametrize("size", ["1536x1024", "512x512", "auto"])
def test_dalle3_sizes(size):
    serve("dall-e-3")
    assert "size" in problems("generate-image", {"prompt": "x", "model": "dall-e-3", "size": size})


def test_dalle3_rejects_gpt_image_only_fields():
    serve("dall-e-3")
    assert "output_format" in problems("generate-image", {"prompt": "x", "model": "dall-e-3",
                                                          "output_format": "png"})


def test_dalle2_sizes_and_no_style():
    serve("dall-e-2")
    sent = image(model="dall-e-2", size="256x256", n=3)
    assert sent["size"] == "256x256" and "style" not in sent and "quality" not in sent
    assert "size" in problems("generate-image", {"prompt": "x", "model": "dall-e-2", "size": "1792x1024"})
    assert "style" in problems("generate-image", {"prompt": "x", "model": "dall-e-2", "style": "natural"})


def test_every_rule_problem_is_reported_at_once():
    found = problems("generate-image", {"prompt": "x", "model": "gpt-image-2", "style": "vivid",
                                        "quality": "hd", "response_format": "url", "size": "1000x1000"})
    assert set(found) == {"style", "quality", "response_format", "size"}


def test_unknown_image_model_gets_generic_checks_only():
    assert image(model="future-image-model", response_format="url", size="640x480")["response_format"] == "url"
