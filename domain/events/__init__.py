"""The events the CRM records: their envelope, and the catalogue of their types."""
