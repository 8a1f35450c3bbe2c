"""Step three: training recipes, one file each."""
