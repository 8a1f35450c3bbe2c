"""The built-in example: a seeded bilingual customer-service data set for Lanting Bank (兰亭银行), a fictional bank.

>>> from lmstack.examples.customer_service import generate
>>> summary = generate("out/cs", seed=0, scale=0.1)   # doctest: +SKIP
"""

from lmstack.examples.customer_service.generate import generate

__all__ = ["generate"]
