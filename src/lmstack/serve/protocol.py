"""OpenAI request and response bodies, as vLLM serves them.

Request fields follow the order of OpenAI's API reference (the required ones, then the rest
alphabetically); lmstack's extras (`top_k`, `ignore_eos`) come after them. Fields a client may send that lmstack does not honour are accepted
(`extra="allow"`) so existing clients keep working, and `ignored_fields` lists them for the log.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenAIModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    def ignored_fields(self) -> list[str]:
        """Names the client sent that no field of this model honours."""
        return sorted((self.model_extra or {}).keys())


class StreamOptions(BaseModel):
    include_usage: bool = Field(False, description="Send a last chunk with the request's usage and no choices.")


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object"] = Field("text", description="json_object: the reply must parse as JSON.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"] = Field(description="Who wrote the message.")
    content: str | list[dict[str, Any]] | None = Field(None, description="Text, or a list of {type: text, text} parts.")
    name: str | None = Field(None, description="Optional author name.")

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")


class ChatCompletionRequest(OpenAIModel):
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    model: str = Field(description="A name from /v1/models.")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Penalise tokens by how often they appeared.")
    logit_bias: dict[str, float] | None = Field(None, description="Token id (as a string) → bias added to its logit.")
    logprobs: bool = Field(False, description="Return the log probability of each output token.")
    max_completion_tokens: int | None = Field(
        None, ge=1, description="Tokens to generate at most (clamped to the context).")
    max_tokens: int | None = Field(None, ge=1, description="Deprecated name of max_completion_tokens.")
    n: int = Field(1, ge=1, description="Choices to generate for the prompt.")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Penalise tokens that appeared at all.")
    response_format: ResponseFormat | None = Field(None, description="{type: json_object} asks for valid JSON.")
    seed: int | None = Field(None, description="Seed for this request's sampling (never the server's global seed).")
    stop: str | list[str] | None = Field(None, description="Strings that end the reply; not included in it.")
    stream: bool = Field(False, description="Send server-sent events as tokens arrive.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="0 is greedy.")
    top_logprobs: int | None = Field(None, ge=0, description="Also return the k most likely tokens at each position.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    user: str | None = Field(None, description="End-user id, recorded for abuse tracing.")
    # lmstack / vLLM extras
    top_k: int = Field(0, ge=0, description="Sample among the k most likely tokens (0 = off).")
    ignore_eos: bool = Field(False, description="Keep generating past the end-of-sequence token (benchmarks).")


class CompletionRequest(OpenAIModel):
    model: str = Field(description="A name from /v1/models.")
    prompt: str | list[str] | list[int] = Field(description="Text to complete, a list of texts, or token ids.")
    echo: bool = Field(False, description="Prepend the prompt to the completion.")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Penalise tokens by how often they appeared.")
    logit_bias: dict[str, float] | None = Field(None, description="Token id (as a string) → bias added to its logit.")
    logprobs: int | None = Field(None, ge=0, description="Return the top-k log probabilities at each position.")
    max_tokens: int | None = Field(16, ge=1, description="Tokens to generate at most (clamped to the context).")
    n: int = Field(1, ge=1, description="Completions to generate per prompt.")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Penalise tokens that appeared at all.")
    seed: int | None = Field(None, description="Seed for this request's sampling.")
    stop: str | list[str] | None = Field(None, description="Strings that end the completion; not included in it.")
    stream: bool = Field(False, description="Send server-sent events as tokens arrive.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    suffix: str | None = Field(None, description="Not supported; a non-null value is logged as ignored.")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="0 is greedy.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    user: str | None = Field(None, description="End-user id, recorded for abuse tracing.")
    # lmstack / vLLM extras
    top_k: int = Field(0, ge=0, description="Sample among the k most likely tokens (0 = off).")
    ignore_eos: bool = Field(False, description="Keep generating past the end-of-sequence token (benchmarks).")


class EmbeddingRequest(OpenAIModel):
    input: str | list[str] = Field(description="Text or texts to embed; for models that accept images (CLIP), "
                                               "also base64 data:image/png|jpeg|webp URLs (never fetched URLs).")
    model: str = Field(description="An embedding model from /v1/models.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: JSON numbers; base64: little-endian float32 bytes (the openai client's default).")
    user: str | None = Field(None, description="End-user id.")


class TokenizeRequest(OpenAIModel):
    model: str = Field(description="A name from /v1/models.")
    prompt: str | None = Field(None, description="Text to tokenize (or give messages).")
    messages: list[ChatMessage] | None = Field(None, description="A conversation, rendered with the chat template.")
    add_generation_prompt: bool = Field(True, description="With messages: end with the assistant's turn header.")


class DetokenizeRequest(OpenAIModel):
    model: str = Field(description="A name from /v1/models.")
    tokens: list[int] = Field(description="Token ids to turn back into text.")


# ---- responses -------------------------------------------------------------------------------


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "lmstack"
    max_model_len: int | None = None
    kind: Literal["causal", "seq2seq", "embedding"] | None = Field(
        None, description="lmstack's extra: causal or seq2seq (chat/completions; seq2seq answers the last user "
                          "message), or embedding (/v1/embeddings).")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int]


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChatLogprobs(BaseModel):
    content: list[TokenLogprob]


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChatLogprobs | None = None
    finish_reason: str | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: ChatLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage
