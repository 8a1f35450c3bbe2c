"""Image–caption pairs: a synthetic set drawn with Pillow, jsonl/folder readers, and tensors for CLIP.

    >>> pairs = synthetic_pairs("data/shapes", n=400, seed=0)      # doctest: +SKIP
    >>> pairs[0].caption, pairs[1].caption                          # doctest: +SKIP
    ('two red circles at the top left', '右下方有一个蓝色正方形')

Each synthetic image shows one or two shapes of one colour in one quadrant; its caption says
what, how many, what colour and where, in English or Chinese, so retrieval has to read all four.
Nothing is downloaded: CLIP weights and captioned photos are not available offline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from lmstack.atomic import atomic_path, write_jsonl
from lmstack.errors import UserError
from lmstack.jsonl import RowError, json_rows
from lmstack.train.chat_data import Reject

# CLIP's pixel statistics (OpenAI), so images are normalised the way CLIP processors do it.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

COLOURS = {"red": ("红色", (220, 30, 30)), "green": ("绿色", (30, 170, 60)), "blue": ("蓝色", (40, 70, 220)),
           "yellow": ("黄色", (235, 200, 20))}
SHAPES = {"circle": "圆形", "square": "正方形", "triangle": "三角形"}
POSITIONS = {"top left": ("左上方", (0, 0)), "top right": ("右上方", (1, 0)),
             "bottom left": ("左下方", (0, 1)), "bottom right": ("右下方", (1, 1))}
COUNTS = {1: ("one", "一个"), 2: ("two", "两个")}


@dataclass(frozen=True)
class Pair:
    image: Path
    caption: str
    key: str
    """What the caption means; captions with the same key (e.g. its English and Chinese) both match the image."""


def caption(shape: str, colour: str, position: str, count: int, lang: str) -> str:
    if lang == "zh":
        return f"{POSITIONS[position][0]}有{COUNTS[count][1]}{COLOURS[colour][0]}{SHAPES[shape]}"
    noun = shape + ("s" if count > 1 else "")
    return f"{COUNTS[count][0]} {colour} {noun} at the {position}"


def draw(shape: str, colour: str, position: str, count: int, size: int, rng: random.Random) -> Image.Image:
    """A `size`×`size` image: `count` shapes in the quadrant, jittered so no two renders are equal."""
    image = Image.new("RGB", (size, size), (245, 245, 245))
    pen = ImageDraw.Draw(image)
    half = size // 2
    qx, qy = POSITIONS[position][1]
    r = max(2, size // 7)
    centres = [(half // 2, half // 2)] if count == 1 else [(half // 4 + 1, half // 2), (3 * half // 4, half // 2)]
    for cx, cy in centres:
        cx = qx * half + cx + rng.randint(-1, 1)
        cy = qy * half + cy + rng.randint(-1, 1)
        box = (cx - r, cy - r, cx + r, cy + r)
        fill = COLOURS[colour][1]
        if shape == "circle":
            pen.ellipse(box, fill=fill)
        elif shape == "square":
            pen.rectangle(box, fill=fill)
        else:
            pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return image


def synthetic_pairs(out_dir: str | Path, *, n: int, seed: int = 0, image_size: int = 32) -> list[Pair]:
    """Draw `n` captioned images into `out_dir` (PNGs + captions.jsonl); half the captions are Chinese."""
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    pairs, rows = [], []
    with atomic_path(out_dir / "images") as tmp:
        tmp.mkdir()
        for i in range(n):
            shape, colour, position = rng.choice(list(SHAPES)), rng.choice(list(COLOURS)), rng.choice(list(POSITIONS))
            count, lang = rng.choice(list(COUNTS)), ("en", "zh")[i % 2]
            name = f"{i:05d}.png"
            draw(shape, colour, position, count, image_size, rng).save(tmp / name)
            text = caption(shape, colour, position, count, lang)
            key = f"{count} {colour} {shape} {position}"
            pairs.append(Pair(out_dir / "images" / name, text, key))
            rows.append({"image": f"images/{name}", "caption": text, "lang": lang, "key": key})
    write_jsonl(out_dir / "captions.jsonl", rows)
    return pairs


def read_pairs(path: str | Path) -> tuple[list[Pair], list[Reject]]:
    """Pairs from a jsonl of {image, caption} (image paths relative to the file), or from a folder of
    images each with a same-named .txt caption; rows without a readable image or caption are rejects."""
    path = Path(path)
    pairs, rejects = [], []
    if path.is_dir():
        for image in sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            text_file = image.with_suffix(".txt")
            if text_file.is_file() and text_file.read_text(encoding="utf-8").strip():
                text = text_file.read_text(encoding="utf-8").strip()
                pairs.append(Pair(image, text, text))
            else:
                rejects.append(Reject(str(image), 0, f"no caption: expected non-empty {text_file.name}"))
        return pairs, rejects
    for line, row in json_rows(path):
        try:
            if isinstance(row, RowError):
                raise row
            if not isinstance(row, dict) or not isinstance(row.get("image"), str) or not isinstance(row.get("caption"), str):
                raise RowError("expected an object with string fields 'image' and 'caption'")
            image = path.parent / row["image"]
            if not image.is_file():
                raise RowError(f"image {row['image']!r} not found next to {path.name}")
            pairs.append(Pair(image, row["caption"], str(row.get("key") or row["caption"])))
        except RowError as e:
            rejects.append(Reject(str(path), line, str(e)))
    return pairs, rejects


def pixels(image_path: Path, size: int) -> torch.Tensor:
    """(3, size, size) CLIP-normalised pixels of an image file."""
    try:
        with Image.open(image_path) as image:
            rgb = image.convert("RGB").resize((size, size), Image.BICUBIC)
    except OSError as e:
        raise UserError(f"cannot read image {image_path} ({e})", hint="remove the row or replace the file") from e
    x = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1)  # (3, H, W)
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    return (x.float() / 255 - mean) / std

