"""The one compiled part of lmstack: the CPU decode-attention kernel (src/lmstack/serve/engine/decode_attention.py).

Everything else is in pyproject.toml. The extension is optional: without a C compiler with OpenMP the
package installs without it, and the serving engine uses torch's SDPA instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "lmstack.serve.engine._decode_attention",
    sources=["src/lmstack/serve/engine/_decode_attention.c"],
    extra_compile_args=["-O3", "-ffast-math", "-fopenmp"],  # fast-math for vectorised expf and sums
    extra_link_args=["-fopenmp"],  # not -ffast-math: linking it would set flush-to-zero for the whole process
    libraries=["m"],
    optional=True,
)])
