"""Step five: Model-as-a-Service."""
