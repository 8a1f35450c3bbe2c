"""Convert a checkpoint of `checkpoints.py` to GGUF with llama.cpp's own converter (run with its sources on the path).

    python benchmarks/serve/to_gguf.py LLAMA_CPP_DIR MODEL_DIR OUT.gguf

The tokenizer is lmstack's byte-level BPE with Qwen2's split rule; llama.cpp identifies known
pre-tokenisers by hashing a test string's token ids, which a freshly trained vocabulary cannot
match, so the converter is told the rule by name ("qwen2") and reads the vocabulary as BPE (its
Llama 3 path) rather than trying SentencePiece first.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    llama_cpp, model_dir, out = sys.argv[1:4]
    sys.path[:0] = [llama_cpp, str(Path(llama_cpp) / "gguf-py")]
    from conversion.base import TextModel  # llama.cpp's converter package

    from conversion.llama import LlamaModel

    TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
    LlamaModel.set_vocab = lambda self: self._set_vocab_gpt2()  # a BPE tokenizer.json, as for Llama 3
    import convert_hf_to_gguf

    sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outfile", out, "--outtype", "bf16"]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main()
