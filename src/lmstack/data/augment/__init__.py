"""Augmentation: new training rows made from kept ones, each tagged with its source row and method."""
