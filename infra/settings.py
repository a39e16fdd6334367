"""Configuration from the environment (and `.env`); docs/configuration.md is generated from
this model, so each field's description is its documentation."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the CRM processes read; all prefixed `CRM_`."""

    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset: an embedded PostgreSQL is started, its data kept"
        " under CRM_DATA_DIR. Tables are created on start",
    )
    data_dir: Path = Field(
        default=Path(".crm"), description="where the embedded PostgreSQL keeps its data"
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka brokers (`host:port,...`); set, events reach the read models through"
        " Kafka (`crm relay`, `crm project`); unset, `crm serve` feeds them in-process",
    )
    kafka_topic: str = Field(default="crm.events.v1", description="the events topic")
    kafka_partitions: int = Field(
        default=12, description="partitions of the topic when the relay creates it"
    )
    kafka_max_poll_interval_ms: int | None = Field(
        default=None, description="a projector consumer's max.poll.interval.ms (unset: Kafka's)"
    )
    kafka_session_timeout_ms: int | None = Field(
        default=None, description="a projector consumer's session.timeout.ms (unset: Kafka's)"
    )
    kafka_fetch_max_wait_ms: int | None = Field(
        default=None, description="longest a consumer's fetch waits for data (Kafka's: 500)"
    )
    host: str = Field(default="127.0.0.1", description="where `crm serve` listens")
    port: int = Field(default=8000, description="the port `crm serve` listens on")
    max_body_bytes: int = Field(default=1_048_576, ge=1, description="largest request body (413)")
    max_header_bytes: int = Field(
        default=16_384, ge=1024, description="largest request line and headers together (431)"
    )
    max_headers: int = Field(default=100, ge=1, description="most request header fields (431)")
    header_timeout_seconds: float = Field(
        default=10, gt=0, description="longest a request's line and headers may take (408)"
    )
    body_timeout_seconds: float = Field(
        default=30, gt=0, description="longest a request's body may take after its headers (408)"
    )
    keep_alive_seconds: float = Field(
        default=5, gt=0, description="an idle keep-alive connection is closed after this"
    )
    max_concurrency: int = Field(
        default=256, ge=1, description="requests in progress per API process (503 beyond)"
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="open connections per API process; one more closes the one waiting longest"
        " for a request, or is refused (503) if all have one in progress",
    )
    smtp_url: str | None = Field(
        default=None,
        description="where `crm automate` hands campaign emails: `smtp://[user:pass@]host[:port]`,"
        " `smtps://...` (implicit TLS), `?starttls=1`, `?from=address`",
    )
    public_url: str | None = Field(
        default=None, description="base of the tracking links in campaign emails"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="keys tracking links (via HKDF); unset: a random key kept in PostgreSQL"
        " (crm_secrets)",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="the master key (base64 of 32 bytes) that wraps each customer's and lead's"
        " data key; unset: CRM_MASTER_KEY_FILE, else a key generated on first start and kept"
        " in CRM_DATA_DIR/master.key (mode 0600). A database remembers a check value of its"
        " master key and refuses another",
    )
    master_key_file: Path | None = Field(
        default=None, description="a file holding the master key (base64 of 32 bytes)"
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="the Ed25519 private key (PEM, PKCS #8, as `openssl genpkey -algorithm"
        " ed25519` writes it) that signs the audit log's tree heads; unset: a key generated on"
        " first start and kept in CRM_DATA_DIR/audit-signing-key.pem (mode 0600). Every"
        " process that signs or serves the public key must read the same key",
    )
    tracking_dedupe_seconds: float = Field(
        default=3600,
        ge=0,
        le=366 * 86_400,
        description="an email open or click repeated within this many seconds of the last one"
        " recorded is answered but not recorded (0: record every one)",
    )
    tracking_rate_limit: str = Field(
        default="600/minute",
        description="tracking requests answered per client address and API process, in a"
        " moving window ('600/minute', '20/second;600/minute'); empty: no limit",
    )
    service_rate_limit: str = Field(
        default="10000/second",
        description="requests a `service` key may make per API process, in a moving window"
        " ('10000/second', '100/second;5000/minute'); past it 429 with Retry-After; empty: none",
    )
    analyst_rate_limit: str = Field(
        default="100/second", description="requests an `analyst` key may make per API process"
    )
    auditor_rate_limit: str = Field(
        default="100/second", description="requests an `auditor` key may make per API process"
    )
    admin_rate_limit: str = Field(
        default="10000/second", description="requests an `admin` key may make per API process"
    )
    auth_failure_limit: str = Field(
        default="60/minute",
        description="requests with an unknown, expired or revoked key answered 401 per client"
        " address and API process; past it they are answered 429 with Retry-After (valid keys"
        " from the address still pass)",
    )
    key_cache_seconds: float = Field(
        default=1,
        ge=0,
        le=60,
        description="how long an API process trusts a key it checked without asking PostgreSQL"
        " again: a key revoked elsewhere (`crm keys revoke`, another API process) stops working"
        " within this time (and one request); 0: every request checks its key",
    )
    template_render_seconds: float = Field(
        default=1.0,
        gt=0,
        description="longest one customer's campaign email may take to render (subject and"
        " body); past it the email is suppressed as render-failed",
    )
    template_render_chars: int = Field(
        default=1_000_000,
        ge=1_000,
        description="most characters one customer's campaign email may write (and any value"
        " its template makes); past it the email is suppressed as render-failed",
    )
    template_render_iterations: int = Field(
        default=100_000,
        ge=1,
        description="most loop iterations (and macro calls) rendering one customer's campaign"
        " email may take; past it the email is suppressed as render-failed",
    )
    log_level: str = Field(
        default="INFO", description="JSON log lines on stderr (console format on a terminal)"
    )
    churn_refit_seconds: float = Field(
        default=60,
        ge=0,
        description="how often a kept churn fit (of `/v1/churn`, the 360 view's churn risk and"
        " lifetime value) is checked against the purchases, in the background, and refitted if"
        " they changed; answers use the fit kept meanwhile; 0: at every read",
    )
    churn_kept_fits: int = Field(
        default=8,
        ge=1,
        description="churn fits (days) an API process keeps, least recently used dropped first"
        " (today's never); each holds about 8 MB per 100,000 buyers",
    )
    workers: int = Field(default=1, description="API processes (each with its own command writer)")
    group_commit_max: int = Field(default=500, description="most commands saved in one transaction")
    command_timeout_seconds: float = Field(
        default=15,
        gt=0,
        description="longest a request waits for the command writer: then 503 (retry with the"
        " same Idempotency-Key), and a writer that does not answer a ping within 5 s is replaced",
    )
    database_timeout_seconds: float = Field(
        default=5,
        gt=0,
        description="longest the command writer tries to record a command while PostgreSQL is"
        " unreachable, or to learn whether a cut-off commit was recorded (then 503, retry"
        " with the same Idempotency-Key); also the longest it waits for a pool connection",
    )
    db_pool_size: int = Field(
        default=8, description="connections per process for reads and side tables"
    )
    import_cache_customers: int = Field(
        default=100_000,
        ge=1,
        description="most customers `crm import purchases` keeps in memory (its file's distinct"
        " customers, up to this): each about 3 KB, plus 0.1 KB per order it holds; a customer"
        " not kept is rebuilt from all their events each time the import comes back to them",
    )

    @field_validator(
        "tracking_rate_limit",
        "service_rate_limit",
        "analyst_rate_limit",
        "auditor_rate_limit",
        "admin_rate_limit",
        "auth_failure_limit",
    )
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        from limits import parse_many  # a tenth of a second: for the processes given limits

        if value.strip():
            parse_many(value)  # ValueError names what it cannot read
        return value.strip()
