"""Which model a call uses and what the lifecycle says about it, before anything is sent:
refused on its shutdown day (dry runs too), warned about within 30 days when the user named
it, a default that moves to its successor on the date, the user's own default settings, a
server's own dates winning for its origin, and a hint for an unknown model.

Every date here is relative to the data's dates or passed as `today=`: nothing reads the clock."""

import json
from datetime import date, timedelta

import pytest

import openai_skill as skill
from openai_skill import InputError, NotFoundError
from openai_skill.lifecycle import learned
from openai_skill.urls import origin_of
from support.openai_data import HI
from support.lifecycle import DATA_DAY, entry, serve

GPT_4O_MINI_END = date(2027, 1, 14)
GATEWAY = "http://127.0.0.1:9/v1"


def chat(today=DATA_DAY, **extra):
    return skill.invoke("chat-completion", {"messages": HI, **extra}, dry_run=True, today=today)


def image(today=DATA_DAY, **extra):
    return skill.invoke("generate-image", {"prompt": "an otter", **extra}, dry_run=True, today=today)


def refusal(call, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        call(**kwargs)
    return info.value


# --- a model the user named ----------------------------------------------------------------

def test_a_retired_model_is_refused_in_one_line_naming_date_and_replacement():
    error = refusal(image, model="dall-e-3")
    assert error.message == "model: dall-e-3 was shut down on 2026-05-12; use gpt-image-2"
    assert error.problems == [{"path": "model", "expected": "gpt-image-2", "given": "dall-e-3",
                               "message": error.message}]
    assert error.exit_code == 2 and error.details["shutdown_date"] == "2026-05-12"


@pytest.mark.parametrize("model, line", [
    ("o3-mini", "model: o3-mini was shut down on 2026-10-23; use gpt-5.6-sol or gpt-5.6-terra"),
    ("gpt-image-1.5",
     "model: gpt-image-1.5 was shut down on 2026-12-01; use gpt-image-2.6-sunburst or gpt-image-2.6-flare"),
    ("o1-mini", "model: o1-mini was shut down on 2025-10-27; use gpt-5.6-sol or gpt-5.6-terra"),  # o4-mini is gone too
])
def test_retired_models_on_the_data_day(model, line):
    call = image if "image" in model else chat
    assert refusal(call, model=model).message == line


def test_the_shutdown_day_itself_is_refused_and_the_day_before_warns():
    assert refusal(chat, model="gpt-4o-mini", today=GPT_4O_MINI_END).message.startswith(
        "model: gpt-4o-mini was shut down on 2027-01-14; use gpt-6-luna")
    day_before = chat(model="gpt-4o-mini", today=GPT_4O_MINI_END - timedelta(days=1))
    assert day_before["warnings"] == ["gpt-4o-mini shuts down on 2027-01-14 (tomorrow); use gpt-6-luna before then"]


@pytest.mark.parametrize("days_left, warned", [(30, True), (31, False), (9, True)])
def test_a_named_model_warns_within_30_days(days_left, warned):
    result = chat(model="gpt-4o", today=GPT_4O_MINI_END - timedelta(days=days_left))
    assert ("warnings" in result) is warned
    if warned:
        assert result["warnings"] == [
            f"gpt-4o shuts down on 2027-01-14 (in {days_left} days); use gpt-6-luna before then"]


def test_gpt_5_mini_nine_days_ahead_as_the_issue_saw_it():
    result = chat(model="gpt-5-mini", today=date(2026, 12, 2))
    assert result["warnings"] == ["gpt-5-mini shuts down on 2026-12-11 (in 9 days); use gpt-6.1-terra before then"]
    assert result["request"]["body"]["model"] == "gpt-5-mini"  # warned, and sent


def test_the_cli_refuses_before_the_wire_dry_run_included(api, key, cli):
    for args in (["image", "an otter", "-m", "dall-e-3"], ["image", "an otter", "-m", "dall-e-3", "--dry-run"],
                 ["chat", "hi", "-m", "o3-mini", "--dry-run"]):
        result = cli(*args)
        assert result.code == 2 and result.out == ""
        assert len(result.err.strip().splitlines()) == 1 and "was shut down on" in result.err
    assert len(api.log) == 0


def test_the_cli_warns_on_stderr_and_sends(api, key, cli):
    result = cli("chat", "hi", "-m", "gpt-5-mini", "--dry-run")
    assert result.code == 0
    assert result.err == ("openai-skill: warning: gpt-5-mini shuts down on 2026-12-11 (in 9 days); "
                          "use gpt-6.1-terra before then\n")
    assert result.json()["warnings"] == [result.err.split("warning: ", 1)[1].strip()]


# --- the skill's defaults -----------------------------------------------------------------

def test_the_chat_default_moves_to_its_successor_on_the_date_silently():
    before = chat(today=GPT_4O_MINI_END - timedelta(days=1))
    assert before["request"]["body"]["model"] == "gpt-4o-mini" and "warnings" not in before
    on = chat(today=GPT_4O_MINI_END)
    assert on["request"]["body"]["model"] == "gpt-6-luna" and "warnings" not in on
    assert on["request"]["body"]["max_completion_tokens"] == 25000  # a reasoning model's budget


def test_the_image_default_is_gpt_image_2_and_dall_e_3_is_gone():
    assert image()["request"]["body"]["model"] == "gpt-image-2"


def test_a_learned_shutdown_of_a_default_with_no_successor_warns_then_refuses():
    learned.record("https://api.openai.com", [entry("gpt-image-2", DATA_DAY + timedelta(days=10))])
    assert image()["warnings"] == ["gpt-image-2 shuts down on 2026-12-12 (in 10 days, per this server's model "
                                   "list); choose another model before then (`openai-skill models` lists them)"]
    error = refusal(image, today=DATA_DAY + timedelta(days=10))
    assert error.message.startswith("model: gpt-image-2 was shut down on 2026-12-12, per this server's model list")
    assert "OPENAI_SKILL_IMAGE_MODEL" not in error.message and "doctor" in error.message


def test_a_client_resolves_its_default_for_its_own_origin_and_day():
    client = skill.Client(base_url=GATEWAY, today=GPT_4O_MINI_END)
    choice = client.default_model("chat-completion")
    assert (choice.model, choice.chosen_by, choice.warnings) == ("gpt-6-luna", "default", [])


def test_a_clients_day_is_its_today_argument_or_callable_else_openai_skill_today():
    day_before = GPT_4O_MINI_END - timedelta(days=1)
    assert skill.Client(base_url=GATEWAY, today=lambda: GPT_4O_MINI_END).default_model("chat-completion").model \
        == "gpt-6-luna"
    assert skill.Client(base_url=GATEWAY, today=lambda: day_before).default_model("chat-completion").model \
        == "gpt-4o-mini"
    client = skill.Client(base_url=GATEWAY, env={"OPENAI_SKILL_TODAY": "2027-01-14"})
    assert client.today() == GPT_4O_MINI_END and client.default_model("chat-completion").model == "gpt-6-luna"
    assert skill.Client(base_url=GATEWAY, today=lambda: day_before).today() == day_before


# --- the user's own default settings ------------------------------------------------------

def test_a_setting_names_the_users_default(monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_CHAT_MODEL", "gpt-6.2-sol")
    monkeypatch.setenv("OPENAI_SKILL_EMBEDDING_MODEL", "text-embedding-3-large")
    assert chat()["request"]["body"]["model"] == "gpt-6.2-sol"
    assert chat(model="gpt-6-luna")["request"]["body"]["model"] == "gpt-6-luna"  # the input wins
    body = skill.invoke("create-embedding", {"input": "x"}, dry_run=True)["request"]["body"]
    assert body["model"] == "text-embedding-3-large"


def test_a_retired_model_in_a_setting_is_refused_naming_the_setting(monkeypatch, cli):
    monkeypatch.setenv("OPENAI_SKILL_IMAGE_MODEL", "dall-e-3")
    error = refusal(image)
    assert error.message == ("OPENAI_SKILL_IMAGE_MODEL: dall-e-3 was shut down on 2026-05-12; use gpt-image-2 "
                             "(set OPENAI_SKILL_IMAGE_MODEL to another model, or unset it)")
    result = cli("image", "an otter", "--dry-run")
    assert result.code == 2 and "OPENAI_SKILL_IMAGE_MODEL" in result.err


def test_a_setting_near_its_date_warns_naming_the_setting(monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_CHAT_MODEL", "gpt-5-mini")
    assert chat()["warnings"] == ["gpt-5-mini (from OPENAI_SKILL_CHAT_MODEL) shuts down on 2026-12-11 "
                                  "(in 9 days); use gpt-6.1-terra before then"]


def test_openai_skill_today_sets_the_day(monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_TODAY", "2027-01-14")
    assert skill.invoke("chat-completion", {"messages": HI}, dry_run=True)["request"]["body"]["model"] == "gpt-6-luna"
    monkeypatch.setenv("OPENAI_SKILL_TODAY", "next tuesday")
    with pytest.raises(InputError, match="OPENAI_SKILL_TODAY: expected a date as YYYY-MM-DD"):
        skill.invoke("chat-completion", {"messages": HI}, dry_run=True)


# --- a server's own list ------------------------------------------------------------------

def test_a_server_that_still_lists_a_model_gets_it_and_only_that_server():
    serve("dall-e-3", origin=origin_of(GATEWAY))
    sent = skill.invoke("generate-image", {"prompt": "x", "model": "dall-e-3"}, dry_run=True, base_url=GATEWAY)
    assert sent["request"]["body"]["model"] == "dall-e-3"
    assert refusal(image, model="dall-e-3").message.startswith("model: dall-e-3 was shut down")  # api.openai.com


def test_a_postponed_shutdown_is_not_refused():
    learned.record("https://api.openai.com", [entry("gpt-5-mini", "2027-06-01")])
    assert "warnings" not in chat(model="gpt-5-mini", today=date(2026, 12, 20))


def test_a_date_the_server_announces_counts_without_a_new_release():
    learned.record("https://api.openai.com", [entry("gpt-6.2-sol", DATA_DAY + timedelta(days=5))])
    assert chat(model="gpt-6.2-sol")["warnings"] == [
        "gpt-6.2-sol shuts down on 2026-12-07 (in 5 days, per this server's model list); choose another model "
        "before then (`openai-skill models` lists them)"]


# --- an unknown model -----------------------------------------------------------------------

def test_model_not_found_gets_the_near_names_and_the_command(openai, key):
    from contract.spec import load_fixture

    openai.reply("GET", "/models", {"object": "list", "data": [entry("gpt-6-luna"), entry("gpt-6.2-sol"),
                                                               entry("gpt-image-2")]})
    openai.reply("POST", "/chat/completions", load_fixture("error-404-model-not-found.json"), status=404)
    skill.invoke("list-models")
    with pytest.raises(NotFoundError) as info:
        skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6-lunar"})
    message = info.value.message
    assert "Near names in this server's last model list: gpt-6-luna" in message
    assert message.endswith("`openai-skill models` lists the models your key can use.")
    assert info.value.code == "model_not_found" and info.value.status == 404


def test_model_not_found_names_at_most_three_near_names(openai, key):
    from contract.spec import load_fixture

    near = ["gpt-6-luna", "gpt-6-lunb", "gpt-6-lunc", "gpt-6-lund"]
    openai.reply("GET", "/models", {"object": "list", "data": [entry(name) for name in near]})
    openai.reply("POST", "/chat/completions", load_fixture("error-404-model-not-found.json"), status=404)
    skill.invoke("list-models")
    with pytest.raises(NotFoundError) as info:
        skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6-lun"})
    named = info.value.message.split("last model list: ", 1)[1].split(".", 1)[0].split(", ")
    assert len(named) == 3 and set(named) < set(near)


def test_model_not_found_without_a_list_still_names_the_command(openai, key):
    from contract.spec import load_fixture

    openai.reply("POST", "/chat/completions", load_fixture("error-404-model-not-found.json"), status=404)
    with pytest.raises(NotFoundError) as info:
        skill.invoke("chat-completion", {"messages": HI, "model": "gpt-6-lunar"})
    assert "Near names" not in info.value.message and "`openai-skill models`" in info.value.message
    json.dumps(info.value.to_dict())  # still a plain error object
