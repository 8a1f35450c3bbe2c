"""lmstack: from a business scenario to a served, measured large model."""

__version__ = "0.1.0"
