"""Models: from-scratch presets, building, loading, inspecting, and tokenizer training.

- `presets`   named configurations (~1M to ~1B parameters) for four architectures: a Llama-style
              causal LM, a classic encoder-decoder Transformer (Marian), a Mixtral-style mixture
              of experts and a CLIP-style dual encoder; `lmstack models presets` prints the table.
- `build`     `build_model(preset, vocab_size=…, …)`: random init from a seed.
- `loading`   `load_model(folder_or_hub_id)` → (model, tokenizer), safetensors only.
- `info`      `model_info(folder)`: what a folder holds, without loading the weights.
- `tokenizer` `train_tokenizer(texts, vocab_size=…, out_dir=…)`: byte-level BPE with ChatML.

Submodules are imported on use, so `import lmstack.models` does not pull in torch.
"""
