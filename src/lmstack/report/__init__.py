"""Reports and the plots in them."""
