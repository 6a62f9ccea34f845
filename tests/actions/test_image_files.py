"""openai_skill.actions.image_files: real-type detection, no overwrite, no escape from the output folder."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest

from openai_skill.errors import UnexpectedResponseError
from openai_skill.actions.image_files import (MAX_STEM_LENGTH, decode_b64_image, default_stem, detect_image_type,
                          sanitize_stem, save_image)


from support.images import JPEG_BYTES, PNG_BYTES, WEBP_BYTES, make_png


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "images"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("data, name, mime", [
    (PNG_BYTES, "pic.png", "image/png"),
    (JPEG_BYTES, "pic.jpg", "image/jpeg"),
    (WEBP_BYTES, "pic.webp", "image/webp"),
])
def test_each_type_is_detected_and_written_with_its_extension(out, data, name, mime):
    result = save_image(data, out, "pic")

    path = out.resolve() / name
    assert result == {"path": str(path), "bytes": len(data), "mime_type": mime}
    assert path.read_bytes() == data
    assert os.path.isabs(result["path"])
    assert path.stat().st_mode & 0o777 == 0o644 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_the_bytes_decide_the_type_not_the_stem(out):
    result = save_image(JPEG_BYTES, out, "looks-like.png")
    assert Path(result["path"]).name == "looks-like.png.jpg"
    assert result["mime_type"] == "image/jpeg"


@pytest.mark.parametrize("data", [
    b"",
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"error": {"message": "nope"}}',
    b"GIF89a\x01\x00\x01\x00",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",         # RIFF, but audio
    PNG_BYTES[1:],                           # truncated signature
], ids=["empty", "html", "json", "gif", "riff-wave", "png-without-first-byte"])
def test_non_images_are_refused_and_nothing_is_written(out, data):
    with pytest.raises(UnexpectedResponseError, match="not PNG, JPEG or WebP.*nothing was written"):
        save_image(data, out, "x")
    assert files_in(out) == []


def test_detect_image_type():
    assert detect_image_type(PNG_BYTES) == ("png", "image/png")
    assert detect_image_type(JPEG_BYTES) == ("jpg", "image/jpeg")
    assert detect_image_type(WEBP_BYTES) == ("webp", "image/webp")
    assert detect_image_type(b"RIFF\x00\x00\x00\x00WEB") is None


def test_out_dir_is_created(tmp_path):
    folder = tmp_path / "a" / "b" / "c"
    result = save_image(PNG_BYTES, folder, "x")
    assert Path(result["path"]).parent == folder.resolve()


def test_existing_files_are_never_overwritten(out):
    out.mkdir()
    (out / "pic.png").write_bytes(b"precious")
    (out / "pic-2.png").write_bytes(b"also precious")

    result = save_image(PNG_BYTES, out, "pic")

    assert Path(result["path"]).name == "pic-3.png"
    assert (out / "pic.png").read_bytes() == b"precious"
    assert (out / "pic-2.png").read_bytes() == b"also precious"


def test_same_stem_different_types_do_not_collide(out):
    names = [Path(save_image(d, out, "pic")["path"]).name for d in (PNG_BYTES, JPEG_BYTES, PNG_BYTES)]
    assert names == ["pic.png", "pic.jpg", "pic-2.png"]


def test_a_planted_symlink_is_not_followed(out, tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("do not touch")
    out.mkdir()
    (out / "pic.png").symlink_to(target)

    result = save_image(PNG_BYTES, out, "pic")

    assert Path(result["path"]).name == "pic-2.png"
    assert target.read_text() == "do not touch"


@pytest.mark.parametrize("stem, expected", [
    ("../../etc/passwd", "etc-passwd"),
    ("/abs/path", "abs-path"),
    (".hidden", "hidden"),
    ("..", "image"),
    ("", "image"),
    ("a/../../b", "a-..-..-b"),
    ("C:\\Windows\\x", "C-Windows-x"),
    ("café au lait", "cafe-au-lait"),
    ("日本語", "image"),
    ("-rf", "rf"),
    ("name\x00with\nnul", "name-with-nul"),
    ("x" * 5000, "x" * MAX_STEM_LENGTH),
])
def test_hostile_stems_stay_inside_the_folder(out, stem, expected):
    assert sanitize_stem(stem) == expected

    result = save_image(PNG_BYTES, out, stem)

    path = Path(result["path"])
    assert path.parent == out.resolve()
    assert path.name == f"{expected}.png"
    assert files_in(out) == [path.name]
    assert not path.name.startswith(".")


def test_out_dir_given_as_a_symlink_is_followed_once(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    result = save_image(PNG_BYTES, tmp_path / "link", "pic")
    assert Path(result["path"]) == real.resolve() / "pic.png"


def test_concurrent_saves_with_one_stem_get_distinct_files(out):
    count = 24
    barrier = threading.Barrier(count)
    payloads = [make_png(width=i + 1) for i in range(count)]  # distinct content per thread
    results: list[dict] = [None] * count
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = save_image(payloads[i], out, "same")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    paths = [r["path"] for r in results]
    assert len(set(paths)) == count
    assert files_in(out) == sorted(["same.png"] + [f"same-{n}.png" for n in range(2, count + 1)])
    for payload, result in zip(payloads, results, strict=True):
        assert Path(result["path"]).read_bytes() == payload


def test_decode_b64_image_round_trip():
    assert decode_b64_image(base64.b64encode(PNG_BYTES).decode()) == PNG_BYTES


@pytest.mark.parametrize("value", [
    "",
    None,
    123,
    "not base64!",
    "iVBORw0KGgo",          # bad padding
    "iVBO Rw0K",            # whitespace inside
    "iVBORw0KGgo=\n",       # trailing newline
    "ÿÿÿÿ",                 # non-ASCII
    "====",
])
def test_bad_base64_is_refused(value):
    with pytest.raises(UnexpectedResponseError, match="base64|b64_json"):
        decode_b64_image(value)


def test_default_stem_is_utc_time_and_index():
    assert default_stem(1713833628, 0) == "image-20240423-005348-0"
    assert default_stem(0, 3) == "image-19700101-000000-3"
    assert sanitize_stem("image-20240423-005348-1") == "image-20240423-005348-1"  # a default stem needs no fixing


@pytest.mark.parametrize("created", [None, "1713833628", 1.5, True, 10**20])
def test_default_stem_refuses_a_bad_created_time(created):
    with pytest.raises(UnexpectedResponseError, match="created"):
        default_stem(created, 0)
