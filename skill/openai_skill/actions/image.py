"""generate-image: the result shape, and saving the images to files.

`shape` is pure; `finish` is the I/O edge that writes base64 images (and, when asked,
downloaded URL images) into the output folder.
"""

from __future__ import annotations

URL_LIFETIME_SECONDS = 3600  # OpenAI image URLs expire after 60 minutes


def shape(data: dict, request_id, params) -> dict:
    """Images as returned: url or b64_json items. Saving base64 to files is `images.py`'s job."""
    images = []
    for item in data["data"]:
        image = {k: item[k] for k in ("url", "b64_json", "revised_prompt") if item.get(k)}
        if "url" not in image and "b64_json" not in image:
            raise ValueError("an image with neither url nor b64_json")
        images.append(image)
    if not images:
        raise ValueError("no images in the answer")
    created = int(data["created"])
    result = {"images": images, "created": created, "model": params.get("model") or data.get("model", ""),
              "request_id": request_id}
    if any("url" in image for image in images):
        result["expires_at"] = created + URL_LIFETIME_SECONDS
        result["note"] = "Image URLs expire 60 minutes after creation; download them to keep them."
    if data.get("usage"):
        result["usage"] = data["usage"]
    return result



def check(params: dict, settings, *, inline_images: bool = False, download_images: bool = False) -> None:
    """Before anything is sent: the output folder must be writable if files will be written."""
    if inline_images or (params.get("response_format") == "url" and not download_images):
        return
    from .image_files import check_output_dir

    check_output_dir(settings.output_dir)


def finish(result: dict, settings, *, inline_images: bool = False, download_images: bool = False) -> dict:
    """Write base64 images (and, if asked, downloaded URL images) to files in output_dir.

    The images are paid for: an image that cannot be written (disk full, folder gone
    read-only since the check) keeps its base64 (or URL) in the result, with `save_error`
    saying why, instead of being lost with an exception."""
    if inline_images:
        return result
    from .image_files import decode_b64_image, default_stem, save_image

    images = []
    for index, image in enumerate(result["images"], start=1):
        image = dict(image)
        data = None
        if "b64_json" in image:
            data = decode_b64_image(image["b64_json"])
        elif download_images and "url" in image:
            from ..transport.download import download

            data, _content_type = download(image["url"], settings)
        if data is not None:
            try:
                saved = save_image(data, settings.output_dir, default_stem(result["created"], index))
            except OSError as exc:
                # b64_json (or url) stays in the image: what was paid for is not lost
                image["save_error"] = (f"cannot write to {settings.output_dir}: "
                                       f"{exc.strerror or type(exc).__name__}")
            else:
                image.pop("b64_json", None)
                image.update(saved)
        images.append(image)
    return {**result, "images": images}
