"""Settings of every service, read once at start-up from `LOYALTY_*` environment variables.

Defaults work for a local run: Kafka on 127.0.0.1:9092, PostgreSQL on 127.0.0.1:5432.
"""

import hashlib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.contract import topics

DEFAULT_EVENT_TYPES = ("operation", "action", "registration", "manual")
DEV_API_KEY = "dev-key"
DEV_LINK_SECRET = "development-link-secret-do-not-use-in-production"
DEFAULT_OPERATION_TYPES = ("purchase", "payment", "transfer", "withdrawal", "refund")


class PointsPolicySetting(BaseModel):
    """One programme's defaults for the dates of an accrual's points."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    pending_days: int = 0
    validity_days: int | None = None


HASHED = "sha256:"
MIN_SECRET_CHARS = 32

METRICS_PORTS = {"run": 9400, "intake": 9401, "processor": 9402, "relay": 9403,
                 "projections": 9404, "clock": 9405}
"""Each service's default metrics port (the API serves /metrics on its own port)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore")

    dev_mode: bool = False
    """Development mode (LOYALTY_DEV_MODE): the development key and link secret may be used.
    Outside it the API refuses to start with them, or without keys of its own."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    postgres_dsn: str = "postgresql://loyalty:loyalty@127.0.0.1:5432/loyalty"
    """The services' role: reads and writes rows, owns nothing, is no superuser."""
    postgres_owner_dsn: str = "postgresql://loyalty_owner:loyalty_owner@127.0.0.1:5432/loyalty"
    """The role that owns the tables: `loyalty prepare` and `loyalty projections rebuild`."""

    commands_topic: str = topics.COMMANDS
    items_topic: str = topics.ITEMS
    results_topic: str = topics.RESULTS
    events_topic: str = topics.EVENTS
    dead_letter_topic: str = topics.DEAD_LETTERS
    events_source: str = "loyalty"
    """The CloudEvents `source` of every published event."""
    topic_partitions: int = 8

    max_items_per_command: int = 1000
    max_command_bytes: int = 1024 * 1024
    max_batch_bytes: int = 64 * 1024 * 1024
    """What one record batch a service reads may decompress to; a batch that expands past it
    (a compression "bomb") is unreadable: dead-lettered and skipped."""
    max_decimal_digits: int = 30
    """Digits a number of a command may have; more: INVALID_DECIMAL."""
    max_decimal_exponent: int = 30
    """How large the exponent of a number of a command may be, either way (`0E-20000`:
    INVALID_DECIMAL); PostgreSQL and the read models never meet an unstorable number."""
    phone_default_region: str = "RU"
    event_types: Annotated[tuple[str, ...], NoDecode] = DEFAULT_EVENT_TYPES
    operation_types: Annotated[tuple[str, ...], NoDecode] = DEFAULT_OPERATION_TYPES

    programmes: Annotated[tuple[str, ...], NoDecode] = ()
    """The programmes served (LOYALTY_PROGRAMMES, comma-separated); empty: any well-formed
    name. A command of another programme fails with INVALID_PROGRAMME."""

    points_pending_days: int = 0
    """Days after an accrual's event date until its points can be spent, when the item names
    no `availableFrom` (0: at once)."""
    points_validity_days: int | None = None
    """Days points stay valid after they become available, when the item names no
    `expiresAt` (unset: for ever)."""
    points_policies: dict[str, PointsPolicySetting] = {}
    """Programmes whose defaults differ, as JSON:
    `{"bank": {"pendingDays": 14, "validityDays": 365}}`."""
    max_queued_messages_per_customer: int = 100
    """Messages a customer may have waiting to be shown; an item queueing one more is refused
    whole (MESSAGE_QUEUE_FULL)."""
    max_messages_per_login: int = 20
    """Messages shown at one login (the others at the next logins)."""
    max_open_lots_per_customer: int = 5000
    """Accruals a customer may hold with points left or pending; an accrual opening one more
    is refused whole (TOO_MANY_LOTS)."""
    max_closed_lots_per_customer: int = 5000
    """Accruals with nothing left kept for reversals; older ones are forgotten."""
    max_spends_per_customer: int = 5000
    """Spends kept for cancels; older ones are forgotten."""
    max_allocations_per_spend: int = 5000
    """Lots one spend may take points from; more: TOO_MANY_ALLOCATIONS."""
    clock_interval_seconds: float = 60.0
    """How often the clock looks for points due to become available or to expire."""

    stuck_after_seconds: float = 60.0
    """A service that is behind (records or events wait for it) and makes no progress for this
    long, or whose loop stops turning, is reported stuck (health, metrics) and restarted."""

    intake_group: str = "loyalty-intake"
    processor_group: str = "loyalty-processor"
    projections_group: str = "loyalty-projections"
    processor_batch_size: int = 500
    processor_poll_timeout_ms: int = 200
    """How long an idle processor waits for items before it polls again."""

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    api_keys: str = ""
    """Organisers' keys, comma-separated: `key:programme`, or `sha256:<hex digest of the
    key>:programme` so that the key itself is stored nowhere. Empty in development mode: the
    local `dev-key` for programme `default`."""
    link_secret: str = DEV_LINK_SECRET
    """Signs customers' login links (LOYALTY_LINK_SECRET); changing it invalidates every link."""
    link_ttl_days: int = 30
    """How long a login link is valid after it was issued."""
    login_rate_per_link: str = "10/minute"
    login_rate_per_address: str = "30/minute"
    """How many logins through the bonus window one link, and one client address, may make
    (a `limits` rate, e.g. `10/minute`)."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    """Where a service serves its Prometheus metrics (0: nowhere); unset: the service's own
    default port (`METRICS_PORTS`), so that the services of one host never collide."""
    metrics_count_seconds: float = 60.0
    """How often, at most, the API's /metrics counts customers and item outcomes by status
    (each a scan of a read-model table), in the background of a scrape."""

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("event_types", "operation_types", "programmes", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def metrics_port_of(self, service: str) -> int:
        """The port of a service's metrics: the configured one, else the service's default."""
        return METRICS_PORTS.get(service, 0) if self.metrics_port is None else self.metrics_port

    def api_key_digests(self) -> list[tuple[bytes, str]]:
        """(SHA-256 digest of a key, its programme) of every configured key; the development
        key for programme `default` in development mode when none is configured."""
        keys: list[tuple[bytes, str]] = []
        for entry in filter(None, (part.strip() for part in self.api_keys.split(","))):
            if entry.startswith(HASHED):
                digest, _, programme = entry[len(HASHED):].partition(":")
                keys.append((bytes.fromhex(digest.strip()), programme.strip()))
            else:
                key, _, programme = entry.partition(":")
                keys.append((hashlib.sha256(key.strip().encode()).digest(), programme.strip()))
        if not keys and self.dev_mode:
            keys.append((hashlib.sha256(DEV_API_KEY.encode()).digest(),
                         topics.DEFAULT_PROGRAMME))
        return keys

    def insecure(self) -> list[str]:
        """What keeps the API from starting outside development mode: forgeable defaults,
        and keys that cannot be used."""
        problems = []
        if not self.dev_mode and self.link_secret in (DEV_LINK_SECRET, ""):
            problems.append("LOYALTY_LINK_SECRET is the development secret: set a secret of "
                            "your own (e.g. `openssl rand -hex 32`)")
        if not self.dev_mode and len(self.link_secret) < MIN_SECRET_CHARS:
            problems.append(f"LOYALTY_LINK_SECRET must be at least {MIN_SECRET_CHARS} "
                            "characters long")
        try:
            keys = self.api_key_digests()
        except ValueError:
            return [*problems, "LOYALTY_API_KEYS has a sha256: entry that is not hex"]
        if not keys:
            problems.append("LOYALTY_API_KEYS is empty: set `key:programme` or "
                            "`sha256:<hex>:programme` pairs")
        dev_digest = hashlib.sha256(DEV_API_KEY.encode()).digest()
        if not self.dev_mode and any(digest == dev_digest for digest, _ in keys):
            problems.append(f"LOYALTY_API_KEYS contains the development key {DEV_API_KEY!r}")
        for digest, programme in keys:
            if len(digest) != hashlib.sha256().digest_size:
                problems.append("a sha256: key of LOYALTY_API_KEYS is not 64 hex digits")
            if not topics.is_programme_name(programme) or (
                    self.programmes and programme not in self.programmes):
                problems.append(f"LOYALTY_API_KEYS names a programme that is not served: "
                                f"{programme!r}")
        return problems
