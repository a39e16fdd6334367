"""Prometheus metrics; labels never carry personal data."""

from prometheus_client import Counter, Histogram

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
