"""Response models of the read routes: what each JSON answer holds, for the OpenAPI document
and for `api.redaction` (fields marked personal data). Separate from the event payloads."""
