"""Images in API requests: base64 `data:` URLs only, capped in bytes and pixels, decoded by Pillow.

    >>> is_image_data_url("data:image/png;base64,iVBORw0KGgo=")
    True
    >>> is_image_data_url("https://example.com/cat.png")
    False

The server never fetches a URL (that would let any client make it reach hosts on its network).
An input is an image only when it is a `data:image/<png|jpeg|webp>;base64,...` string; the bytes
are decoded with only the PNG, JPEG and WebP decoders enabled, and the image's size is read from
its header and refused before any pixel is decoded when it holds more than `max_pixels` (a small
file can expand to gigabytes: a decompression bomb).
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image

from lmstack.serve.errors import APIError

MAX_IMAGE_BYTES = 4_000_000
MAX_IMAGE_PIXELS = 4096 * 4096
FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
_DATA_URL = re.compile(r"^data:image/([a-z]+);base64,", re.IGNORECASE)


def is_image_data_url(text: str) -> bool:
    return text[:5].lower() == "data:" and _DATA_URL.match(text[:64]) is not None


def decode_image(url: str, *, param: str = "input", max_bytes: int = MAX_IMAGE_BYTES,
                 max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """An RGB image from a base64 data URL, or a 400 APIError that says what is wrong."""
    match = _DATA_URL.match(url[:64])
    if match is None:
        raise APIError(400, "images must be base64 data URLs: data:image/png;base64,...", param=param,
                       code="invalid_image")
    kind = match.group(1).lower()
    if kind not in FORMATS:
        raise APIError(400, f"image/{kind} is not accepted; send PNG, JPEG or WebP", param=param,
                       code="invalid_image")
    payload = url[match.end():]
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise APIError(400, f"the image is larger than {max_bytes} bytes", param=param, code="image_too_large")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise APIError(400, "the image's base64 is not valid", param=param, code="invalid_image") from None
    try:
        with Image.open(io.BytesIO(raw), formats=sorted(set(FORMATS.values()))) as image:
            width, height = image.size  # from the header: nothing is decoded yet
            if width * height > max_pixels:
                raise APIError(400, f"the image has {width}×{height} pixels; at most {max_pixels} are accepted",
                               param=param, code="image_too_large")
            return image.convert("RGB")
    except APIError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise APIError(400, f"the image cannot be decoded ({type(e).__name__})", param=param,
                       code="invalid_image") from None
