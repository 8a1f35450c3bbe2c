"""CLIP-style dual encoders (lmstack's clip-* presets, the contrastive recipe) on /v1/embeddings.

    >>> m = ClipEmbedder("runs/clip/model")                                    # doctest: +SKIP
    >>> m.embed(["a red circle"])[0][:3]                                       # doctest: +SKIP

Texts and images are encoded exactly as the contrastive recipe encoded them in training
(`lmstack.train.clip_embed`): captions as their tokens then EOS, where CLIP pools; images through
the checkpoint's own image processor (preprocessor_config.json, which the recipe saves). Vectors are
L2-normalised, so a dot product is the cosine similarity the model was trained on, and texts and
images share one space. A folder without an image processor embeds texts only.

An input that is a base64 `data:image/...` URL is an image (`lmstack.serve.images`: no URL is ever
fetched, size and pixels are capped). An image counts as its vision tokens (patches + 1) in `usage`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image

from lmstack.errors import UserError


class ClipEmbedder:
    """A CLIPModel folder served as an embedding model; thread-safe (one forward at a time)."""

    def __init__(self, path: str | Path, *, device: str = "auto"):
        from lmstack.hardware.device import resolve_device
        from lmstack.models.loading import load_config, resolve_model_folder
        from lmstack.train.clip_embed import load_clip

        folder = resolve_model_folder(path)
        config = load_config(folder)
        if config.model_type != "clip":
            raise UserError(f"{str(path)!r} is a {config.model_type!r} model, not a CLIP dual encoder",
                            hint="pass a folder written by the contrastive recipe (a clip-* preset)")
        self.encoder = load_clip(folder, resolve_device(device), texts_only=True)
        vision = config.vision_config
        self.max_input_tokens = self.encoder.max_length
        self.image_tokens = (vision.image_size // vision.patch_size) ** 2 + 1
        self._lock = threading.Lock()

    @property
    def accepts_images(self) -> bool:
        return self.encoder.processor is not None

    def count_tokens(self, inputs: list[str | Image.Image]) -> int:
        return sum(self.image_tokens if isinstance(x, Image.Image) else len(self.encoder.caption_ids(x)) for x in inputs)

    def embed(self, inputs: list[str | Image.Image]) -> list[list[float]]:
        """One L2-normalised vector per text or image, in input order."""
        texts = [i for i, x in enumerate(inputs) if not isinstance(x, Image.Image)]
        images = [i for i, x in enumerate(inputs) if isinstance(x, Image.Image)]
        if images and not self.accepts_images:
            raise ValueError("this CLIP folder has no image processor (preprocessor_config.json); it embeds texts only")
        out: list[list[float]] = [[] for _ in inputs]
        with self._lock:
            if texts:
                for i, v in zip(texts, self.encoder.embed_text([inputs[i] for i in texts]).tolist()):
                    out[i] = v
            if images:
                for i, v in zip(images, self.encoder.embed_image([inputs[i] for i in images]).tolist()):
                    out[i] = v
        return out
