"""Thin HTTP layer: routing, auth, request and response models, problem+json errors."""
