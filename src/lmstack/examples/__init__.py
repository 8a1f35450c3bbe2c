"""Complete, runnable example projects; each ships its own data or a seeded data generator."""
