"""Prometheus metrics; labels never carry personal data."""

from prometheus_client import Counter, Gauge, Histogram

COMMANDS = Counter("crm_commands_total", "Commands answered", ["command", "result"])
BATCH_SIZE = Histogram(
    "crm_command_batch_size",
    "Commands saved per transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
PROJECTED = Counter("crm_projected_events_total", "Events applied to read models", ["projection"])
RELAYED = Counter("crm_relayed_events_total", "Events published to Kafka and acknowledged")
PARKED = Counter("crm_dead_letters_total", "Messages parked as dead letters", ["projection"])
CHURN_FITS = Histogram(
    "crm_churn_fit_seconds",
    "Churn buyers computed: purchases read, BG/NBD model fitted, every buyer scored",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
KEPT_CHURN_FITS = Gauge(
    "crm_churn_kept_fits",
    "Churn fits (days) kept in memory by the API processes",
    multiprocess_mode="livesum",
)
AUTH_FAILURES = Counter(
    "crm_auth_failures_total",
    "Requests refused for their API key: missing, unknown, expired, revoked, or throttled"
    " (an address past CRM_AUTH_FAILURE_LIMIT)",
    ["reason"],
)
RATE_LIMITED = Counter(
    "crm_rate_limited_total", "Requests refused past their key's rate limit (429)", ["role"]
)
ACCESS_RECORDS_WRITTEN = Counter(
    "crm_access_records_written_total", "Reads of personal data written to the access log"
)
ACCESS_RECORDS_DROPPED = Counter(
    "crm_access_records_dropped_total",
    "Reads of personal data not written to the access log: queue_full or write_failed",
    ["reason"],
)
