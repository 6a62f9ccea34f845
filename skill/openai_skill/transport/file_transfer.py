"""Files on the API (`/files`): a multipart upload from disk and a capped download to disk.

Both go through the same call loop as every other request (key, retries, deadline, error
mapping); neither keeps a whole file in memory. The multipart body is written to a temporary
file first, so a retry can send it again from the start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from ..config import Settings
from ..errors import UnexpectedResponseError
from ..secret import Secret
from ..urls import checked_id
from . import error_map
from .call import BearerAuth, Call
from .http import ApiResponse
from .request import ApiRequest, endpoint_request

MAX_FILE_DOWNLOAD_BYTES = 1024 * 1024 * 1024   # a batch output beyond 1 GiB is refused
COPY_BYTES = 1024 * 1024


def multipart_parts(fields: dict, filename: str, boundary: str) -> tuple[bytes, bytes]:
    """The bytes before and after the file's content in a multipart/form-data body."""
    head = b""
    for name, value in fields.items():
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                 f"{value}\r\n").encode()
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\n"
             f"Content-Type: application/jsonl\r\n\r\n").encode()
    return head, f"\r\n--{boundary}--\r\n".encode("ascii")


def upload(path: Path, purpose: str, api_key: Secret, settings: Settings, *, sessions=None) -> ApiResponse:
    """POST /files with `path` as the file and `purpose`; return the File object."""
    request = endpoint_request("POST", "/files", settings)
    boundary = "openai-skill-" + uuid.uuid4().hex
    head, tail = multipart_parts({"purpose": purpose}, Path(path).name, boundary)
    headers = {**request.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = ApiRequest("POST", request.url, headers)
    with tempfile.TemporaryFile() as body:
        body.write(head)
        with open(path, "rb") as source:
            shutil.copyfileobj(source, body, COPY_BYTES)
        body.write(tail)
        body.flush()
        with Call(request, BearerAuth(api_key), settings, data=body, sessions=sessions) as call:
            response, raw = call.run(read_body=True)
    data = error_map.parse_object(raw, response)
    return ApiResponse(response.status_code, error_map.lower_keys(response.headers), data,
                       response.headers.get(error_map.HEADER_REQUEST_ID))


def download_content(file_id: str, dest: Path, api_key: Secret, settings: Settings, *,
                     max_bytes: int = MAX_FILE_DOWNLOAD_BYTES, sessions=None) -> int:
    """GET /files/{id}/content into `dest` (written whole or not at all); return its size.
    `file_id` usually comes from an answer (a batch's output file): it is checked here, the
    one place it becomes part of a URL, and never becomes part of a file name."""
    file_id = checked_id(file_id, "file id", from_server=True)
    request = endpoint_request("GET", f"/files/{file_id}/content", settings)
    request = ApiRequest("GET", request.url, {**request.headers, "Accept": "*/*"})
    with Call(request, BearerAuth(api_key), settings, max_bytes=max_bytes,
              what="the file", sessions=sessions) as call:
        response, _ = call.run(read_body=False)
        return _save(call, response, Path(dest), max_bytes)


def _save(call: Call, response, dest: Path, max_bytes: int) -> int:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise _too_large(call, max_bytes)
    handle = tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", delete=False)  # noqa: SIM115  (entered by the `with` below; made first so the except can remove it by name)
    size = 0
    try:
        with handle:
            for piece in call.pieces(response):
                size += len(piece)
                if size > max_bytes:
                    raise _too_large(call, max_bytes)
                handle.write(piece)
        os.replace(handle.name, dest)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    finally:
        response.close()
    return size


def _too_large(call: Call, limit: int) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"the file from {error_map.host_of(call.url)} is larger than the "
        f"{limit / 1024 / 1024:g} MiB cap")


__all__ = ["upload", "download_content", "multipart_parts"]
