"""Churn: the BG/NBD model of repeat buying, and the signals and scores built on it."""
