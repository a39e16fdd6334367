"""The verifiable audit log: a Merkle tree over the event store, signed tree heads, proofs,
verification and bundles (docs/audit.md)."""
