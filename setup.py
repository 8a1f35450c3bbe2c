"""The one compiled part of lmstack: the serving engine's CPU kernels (src/lmstack/serve/engine/native.py).

Everything else is in pyproject.toml. The extension is optional: without a C compiler with OpenMP the
package installs without it, and the engine runs the same steps in torch.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "lmstack.serve.engine._kernels",
    sources=[f"src/lmstack/serve/engine/csrc/{name}.c" for name in ("module", "decode_attention", "prompt_attention",
                                                                 "prompt_attention_amx", "pointwise", "linear",
                                                                 "linear_amx", "decoder_layers")],
    depends=[f"src/lmstack/serve/engine/csrc/{name}.h" for name in ("amx_tiles", "bf16", "dispatch", "kernels",
                                                                             "key_pairs", "softmax")],
    extra_compile_args=["-O3", "-ffast-math", "-fopenmp"],  # fast-math for vectorised expf and sums
    extra_link_args=["-fopenmp"],  # not -ffast-math: linking it would set flush-to-zero for the whole process
    libraries=["m"],
    optional=True,
)])
