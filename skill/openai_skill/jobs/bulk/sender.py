"""One embedding request through the client: the action's schema and model rules
(`Client.prepare`), the key for the request's origin, the shared session with its retries,
deadline and redaction (`Client.send`), and the spend guard (`Client.hold`): each request's
worst case (its texts' bytes) is reserved against the caps before it is sent and settled with
its usage after, so a cap stops a run between requests. The only thing added is
`encoding_format: base64` and keeping the vectors as float32 bytes."""

from __future__ import annotations

from collections.abc import Mapping

from ...client import Cancel, Client, cancelling
from ...errors import UnexpectedResponseError
from .vectors import Shape, decode_base64, from_floats

ACTION = "create-embedding"
SURFACE = "bulk"           # how the spend ledger labels these calls
WIRE_ENCODING = "base64"   # about 4x fewer bytes than JSON numbers (see vectors.py)


def request_input(texts, model: str | None, dimensions: int | None) -> dict:
    data = {"input": texts, "encoding_format": WIRE_ENCODING}
    if model is not None:  # None: the default the client resolves (skill.yaml `defaults`)
        data["model"] = model
    if dimensions is not None:
        data["dimensions"] = dimensions
    return data


def check_options(model: str | None, dimensions: int | None, client: Client):
    """Validate model and dimensions with the action's schema, lifecycle and rules before any
    reading; the `Prepared` call, whose params name the model in use."""
    return client.prepare(ACTION, request_input(["x"], model, dimensions))


class EmbeddingSender:
    """send(texts) -> ([float32 bytes per text, in order], the answer's headers)."""

    def __init__(self, model: str, dimensions: int | None, client: Client, observe=None,
                 shape: Shape | None = None, switch: Cancel | None = None):
        self.model, self.dimensions, self.client = model, dimensions, client
        self.observe = observe
        self.shape = shape if shape is not None else Shape(dimensions)
        self.switch = switch if switch is not None else Cancel()   # switch.cancel(): every request ends now

    def __call__(self, texts: list, deadline_at: float | None = None) -> tuple[list, Mapping]:
        """`deadline_at`: when this request's deadline ends (a `time.monotonic()` instant; it
        began before any rate-limit wait)."""
        prepared = self.client.prepare(ACTION, request_input(texts, self.model, self.dimensions))
        with self.client.hold(lambda: self.client.worst_case(ACTION, prepared.params), surface=SURFACE,
                              action=ACTION, params=prepared.params) as held:
            with cancelling(self.switch):
                response = self.client.send(prepared.request, observe=self.observe, deadline_at=deadline_at)
            held.settle(self.client.cost_of(ACTION, prepared.params, response.data), response.request_id,
                        response.data)
        vectors = decode_answer(response.data, len(texts), response.request_id)
        self.shape.check(vectors, response.request_id)  # before the engine caches or writes any
        return vectors, response.headers


def decode_answer(data: dict, expected: int, request_id: str | None = None) -> list:
    """The vectors of an embeddings answer, in input order, as float32 bytes."""
    try:
        items = data["data"]
        by_index = {int(item["index"]): item["embedding"] for item in items}
    except (KeyError, TypeError, ValueError):
        raise UnexpectedResponseError("the embeddings answer has no data[].index/embedding",
                                      request_id=request_id) from None
    if sorted(by_index) != list(range(expected)):
        raise UnexpectedResponseError(f"asked for {expected} embeddings, got indexes "
                                      f"{sorted(by_index)[:5]}… ({len(by_index)} in all)", request_id=request_id)
    vectors = []
    for index in range(expected):
        raw = by_index[index]
        vectors.append(decode_base64(raw) if isinstance(raw, str) else from_floats(raw))
    width = len(vectors[0])
    if any(len(vector) != width for vector in vectors):
        raise UnexpectedResponseError("the embeddings in one answer differ in length", request_id=request_id)
    return vectors
