"""CLIP dual encoders (the contrastive recipe's clip-* presets) on /v1/embeddings, texts and data-URL images."""

from __future__ import annotations

import base64
import io

import openai
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from transformers import CLIPImageProcessorPil, CLIPModel

from lmstack.models.build import build_model
from lmstack.serve.app import create_app
from lmstack.serve.clip import ClipEmbedder
from lmstack.serve.errors import APIError
from lmstack.serve.images import decode_image
from lmstack.serve.server import ModelSpec, build_registry, resolve_kind
from lmstack.train.image_text import CLIP_MEAN, CLIP_STD, pixels

TEXTS = ["a red circle in the top left", "两个蓝色的方块", "x"]


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory, tiny_tokenizer):
    tok = tiny_tokenizer
    model = build_model("clip-2m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    folder = tmp_path_factory.mktemp("served") / "tiny-clip"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    size = model.config.vision_config.image_size  # saved as the contrastive recipe saves it
    CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                          image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def reference(clip_folder):
    return CLIPModel.from_pretrained(clip_folder).eval()


@pytest.fixture
def client(clip_folder):
    registry = build_registry([ModelSpec(name="clip", path=str(clip_folder))], bundled_embeddings=False)
    with TestClient(create_app(registry)) as c:
        yield c


def png(path=None, size: int = 32, colour=(200, 30, 30)) -> tuple[str, Image.Image]:
    image = Image.new("RGB", (size, size), (255, 255, 255))
    for x in range(4, 14):
        for y in range(6, 20):
            image.putpixel((x, y), colour)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    if path is not None:
        image.save(path)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), image


def text_reference(model: CLIPModel, tokenizer, text: str) -> torch.Tensor:
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]])
    with torch.no_grad():
        return torch.nn.functional.normalize(model.get_text_features(input_ids=ids).pooler_output, dim=-1)[0]


def test_clip_folders_are_detected_as_embedding_models(clip_folder):
    for kind in ("auto", "embedding", "clip"):
        assert resolve_kind(ModelSpec(name="c", path=str(clip_folder), kind=kind)) == "clip"


def test_text_vectors_equal_normalised_get_text_features(client, reference, tiny_tokenizer):
    r = client.post("/v1/embeddings", json={"model": "clip", "input": TEXTS})
    assert r.status_code == 200, r.text
    body = r.json()
    for text, item in zip(TEXTS, body["data"]):
        expected = text_reference(reference, tiny_tokenizer, text)
        assert len(item["embedding"]) == reference.config.projection_dim
        assert torch.allclose(torch.tensor(item["embedding"]), expected, atol=1e-5)
    tokens = sum(len(tiny_tokenizer.encode(t, add_special_tokens=False)) + 1 for t in TEXTS)
    assert body["usage"] == {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
    assert client.get("/v1/models").json()["data"][0] | {"created": 0} == {
        "id": "clip", "object": "model", "created": 0, "owned_by": "lmstack", "max_model_len": 77, "kind": "embedding"}


def test_data_url_images_embed_as_the_recipe_preprocesses_them(client, reference, tiny_tokenizer, tmp_path):
    url, _ = png(tmp_path / "red.png")
    body = client.post("/v1/embeddings", json={"model": "clip", "input": [TEXTS[0], url]}).json()
    size = reference.config.vision_config.image_size
    with torch.no_grad():
        expected = reference.get_image_features(pixel_values=pixels(tmp_path / "red.png", size)[None]).pooler_output
    expected = torch.nn.functional.normalize(expected, dim=-1)[0]
    assert torch.allclose(torch.tensor(body["data"][1]["embedding"]), expected, atol=1e-5)
    assert torch.allclose(torch.tensor(body["data"][0]["embedding"]),
                          text_reference(reference, tiny_tokenizer, TEXTS[0]), atol=1e-5)
    patches = (size // reference.config.vision_config.patch_size) ** 2 + 1
    text_tokens = len(tiny_tokenizer.encode(TEXTS[0], add_special_tokens=False)) + 1
    assert body["usage"]["prompt_tokens"] == text_tokens + patches


def test_urls_are_never_fetched_and_bad_images_are_400(client, reference, tiny_tokenizer):
    link = "https://example.com/cat.png"  # a text like any other: embedded, not fetched
    r = client.post("/v1/embeddings", json={"model": "clip", "input": link}).json()
    assert torch.allclose(torch.tensor(r["data"][0]["embedding"]), text_reference(reference, tiny_tokenizer, link),
                          atol=1e-5)
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    bad = {
        "data:image/gif;base64," + base64.b64encode(gif.getvalue()).decode(): "invalid_image",
        "data:image/png;base64,@@@@": "invalid_image",
        "data:image/png;base64," + base64.b64encode(gif.getvalue()).decode(): "invalid_image",  # not a PNG inside
    }
    for url, code in bad.items():
        r = client.post("/v1/embeddings", json={"model": "clip", "input": ["ok", url]})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
        assert r.json()["error"]["param"] == "input.1"
    url, _ = png(size=64)
    with pytest.raises(APIError, match="at most 1000 are accepted"):
        decode_image(url, max_pixels=1000)  # refused from the header, before decoding
    with pytest.raises(APIError, match="larger than 100 bytes"):
        decode_image(url, max_bytes=100)
    assert decode_image(url).size == (64, 64)


def test_a_clip_folder_without_image_processor_takes_texts_only(clip_folder, tmp_path, tiny_tokenizer):
    texts_only = tmp_path / "clip-text"
    CLIPModel.from_pretrained(clip_folder).save_pretrained(texts_only)
    tiny_tokenizer.save_pretrained(texts_only)
    embedder = ClipEmbedder(texts_only)
    assert not embedder.accepts_images
    assert len(embedder.embed(["a"])[0]) == 128


def test_openai_client_gets_clip_embeddings(clip_folder, reference, tiny_tokenizer, start_server):
    registry = build_registry([ModelSpec(name="clip", path=str(clip_folder), kind="embedding")],
                              bundled_embeddings=False)
    live = start_server(create_app(registry))
    c = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0, timeout=30)
    out = c.embeddings.create(model="clip", input=TEXTS[:2])  # base64 on the wire, the client's default
    for text, item in zip(TEXTS, out.data):
        assert torch.allclose(torch.tensor(item.embedding), text_reference(reference, tiny_tokenizer, text),
                              atol=1e-5)
