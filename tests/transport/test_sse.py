"""The SSE parser and the chunk accumulator, as pure functions."""

from __future__ import annotations

import json

import pytest

from openai_skill.actions.chat import accumulate
from openai_skill.transport.sse import iter_events, iter_lines


def events(text_or_pieces):
    pieces = [text_or_pieces] if isinstance(text_or_pieces, (str, bytes)) else text_or_pieces
    return list(iter_events(iter_lines(pieces)))


# --- lines ------------------------------------------------------------------------------


@pytest.mark.parametrize("pieces, expected", [
    ([b"a\nb\n"], ["a", "b"]),
    ([b"a\r\nb\r\n"], ["a", "b"]),
    ([b"a\rb\r"], ["a", "b"]),
    ([b"a\r", b"\nb"], ["a", "b"]),            # CRLF cut in two: one line ending, not two
    ([b"a\r", b"\r\nb"], ["a", "", "b"]),      # CR, then CRLF: an empty line between
    ([b"a\r", b"", b"\nb"], ["a", "b"]),
    ([b"da", b"ta: x", b"\n"], ["data: x"]),
    ([b"\xe2\x82", b"\xac\n"], ["\u20ac"]),      # a UTF-8 character cut in two
    ([b"x\xe2\x80\xa8y\n"], ["x\u2028y"]),      # U+2028 is not a line ending in SSE
    (["str\npieces"], ["str", "pieces"]),
    ([], []),
])
def test_iter_lines(pieces, expected):
    assert list(iter_lines(pieces)) == expected


# --- events -----------------------------------------------------------------------------


def test_data_with_and_without_the_space_after_the_colon():
    assert events(b"data: one\n\ndata:two\n\ndata:  three\n\n") == ["one", "two", " three"]


def test_multi_line_data_is_joined_with_newlines():
    assert events("data: {\"a\":\ndata: 1}\n\n") == ['{"a":\n1}']


def test_comments_other_fields_and_extra_blank_lines_are_skipped():
    text = ": keep-alive\n\n\nevent: message\nid: 7\nretry: 100\ndata: x\n\n: bye\n\n"
    assert events(text) == ["x"]


def test_an_event_ends_only_at_a_blank_line():
    assert events([b"data: a\n", b"data: b\n", b"\n", b"data: c\n\n"]) == ["a\nb", "c"]


def test_done_and_a_last_event_without_a_blank_line():
    assert events("data: {}\n\ndata: [DONE]") == ["{}", "[DONE]"]


def test_byte_order_mark_and_crlf():
    assert events(b"\xef\xbb\xbfdata: x\r\n\r\n") == ["x"]


def test_iter_events_takes_bytes_lines_with_endings():
    assert list(iter_events([b"data: x\r\n", b"\r\n"])) == ["x"]


def test_a_bare_field_name_is_that_field_with_an_empty_value():
    # As the SSE spec says: `data` alone appends an empty line, so the event's data is "".
    assert events("data\n\nid\n\ndata: y\n\n") == ["", "y"]


# --- accumulate -------------------------------------------------------------------------

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1"}


def chunk(delta=None, finish=None, index=0, **extra):
    choice = {"index": index, "delta": delta or {}, "finish_reason": finish, "logprobs": None}
    return {**BASE, "choices": [choice], **extra}


USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}


def test_text_stream_becomes_a_chat_completion():
    chunks = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
              chunk({"content": "lo"}), chunk({}, "stop"),
              {**BASE, "choices": [], "usage": USAGE}]
    assert accumulate(chunks) == {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "Hello", "refusal": None}}],
        "usage": USAGE,
    }


def test_tool_calls_are_assembled_by_index_with_arguments_concatenated():
    chunks = [
        chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                               "function": {"name": "get_time", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
    ]
    message = accumulate(chunks)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]}
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert accumulate(chunks)["choices"][0]["finish_reason"] == "tool_calls"


def test_no_usage_chunk_means_no_usage_key_and_last_usage_wins():
    assert "usage" not in accumulate([chunk({"content": "x"}, "stop")])
    chunks = [chunk({"content": "x"}, usage=None), {**BASE, "choices": [], "usage": USAGE}]
    assert accumulate(chunks)["usage"] == USAGE


def test_several_choices_refusal_and_logprobs():
    token = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    chunks = [
        chunk({"role": "assistant", "content": "a"}, index=1),
        chunk({"role": "assistant", "refusal": "I can"}, index=0),
        chunk({"refusal": "not."}, "stop", index=0),
        {**BASE, "choices": [{"index": 1, "delta": {"content": "b"}, "finish_reason": "length",
                              "logprobs": {"content": [token], "refusal": None}}]},
    ]
    result = accumulate(chunks)
    assert [c["index"] for c in result["choices"]] == [0, 1]
    assert result["choices"][0]["message"]["refusal"] == "I cannot."
    assert result["choices"][0]["message"]["content"] is None
    assert result["choices"][1]["message"]["content"] == "ab"
    assert result["choices"][1]["finish_reason"] == "length"
    assert result["choices"][1]["logprobs"] == {"content": [token], "refusal": None}


def test_empty_stream_keeps_the_required_keys():
    assert accumulate([]) == {"id": None, "object": "chat.completion", "created": None,
                              "model": None, "choices": []}


def test_legacy_function_call_deltas():
    chunks = [chunk({"role": "assistant", "function_call": {"name": "f", "arguments": ""}}),
              chunk({"function_call": {"arguments": "{}"}}, "function_call")]
    message = accumulate(chunks)["choices"][0]["message"]
    assert message["function_call"] == {"name": "f", "arguments": "{}"}
