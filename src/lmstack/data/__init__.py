"""Step two: reading, cleaning and augmenting data."""
