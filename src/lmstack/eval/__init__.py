"""Step four: evaluation."""
