"""Churn statistics: the BG/NBD model of repeat buying and the risk score built on it."""
