"""Settings of every service, read once at start-up from `LOYALTY_*` environment variables.

Defaults work for a local run: Kafka on 127.0.0.1:9092, PostgreSQL on 127.0.0.1:5432.
"""

import hashlib
import os
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.contract import topics
from services.contract.rules import DEFAULT_EVENT_TYPES, DEFAULT_OPERATION_TYPES

DEV_API_KEY = "dev-key"
DEV_LINK_SECRET = "development-link-secret-do-not-use-in-production"
DEV_MASTER_KEY = "6c6f79616c74792d646576656c6f706d656e742d6d61737465722d6b65792121"
"""The development master key (64 hex digits: 32 bytes); refused outside development mode."""


class PointsPolicySetting(BaseModel):
    """One programme's defaults for the dates of an accrual's points."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    pending_days: int = 0
    validity_days: int | None = None


HASHED = "sha256:"
MIN_SECRET_CHARS = 32
MIN_API_KEY_CHARS = 24
"""The shortest plain key accepted outside development mode (`openssl rand -hex 24` makes 48)."""

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]

METRICS_PORTS = {"run": 9400, "intake": 9401, "processor": 9402, "relay": 9403,
                 "projections": 9404, "clock": 9405}
"""Each service's default metrics port (the API serves /metrics on its own port)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore",
                                      hide_input_in_errors=True)
    """Errors never show the values read: they hold passwords."""

    dev_mode: bool = False
    """Development mode (LOYALTY_DEV_MODE): the development key and link secret may be used.
    Outside it the API refuses to start with them, or without keys of its own."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    """How every Kafka client of the services and tools connects: TLS (SSL, SASL_SSL) and
    SASL (SASL_PLAINTEXT, SASL_SSL) or neither."""
    kafka_sasl_mechanism: SaslMechanism | None = None
    """With SASL_PLAINTEXT or SASL_SSL only (and then required)."""
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    """Never shown: logs, reprs and error messages name the variable, not its value."""
    kafka_ssl_cafile: str | None = None
    """The CA (PEM) that signed the brokers' certificates; unset: the system's CAs."""
    kafka_ssl_certfile: str | None = None
    """The client's certificate (PEM) for mutual TLS; its key in it or in the key file."""
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_key_password: SecretStr | None = None
    """The password of an encrypted client key."""
    kafka_compression: Compression = "none"
    """How the services compress the batches they produce: worth it where the network or the
    brokers' disks, not the CPU, are short (docs/operations.md); consumers read any."""
    kafka_linger_ms: int = Field(5, ge=0, le=1000)
    """How long a producer waits for more records before it sends a batch: longer makes
    fewer, larger requests and adds that much to every hop's latency (docs/benchmarks.md)."""
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
    topic_partitions: int = Field(8, ge=1)
    topic_replication_factor: int = Field(1, ge=1)
    """Replicas of every partition of the topics the services create (production: 3)."""
    topic_min_insync_replicas: int = Field(1, ge=1)
    """Replicas that must have a record before an `acks=all` write succeeds (production: 2,
    so one broker may be lost without losing an acknowledged record or stopping writes)."""

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
    topics_per_programme: bool = False
    """Each programme has topics of its own (`loyalty.commands.<programme>`, `.results.`,
    `.events.`), so that Kafka ACLs can let an organiser write only its own programme's
    commands and read only its own results and events (docs/security.md). The programme of a
    command is then its topic's; needs LOYALTY_PROGRAMMES."""

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
    """Items applied and saved in one transaction at most (and records fetched per poll: a
    record of envelopes holds many items)."""
    snapshot_interval: int = 1000
    """A customer is snapshotted when a save takes its version across a multiple of this
    (0: no snapshots are taken or read); see docs/architecture.md, "Snapshots"."""
    processor_poll_timeout_ms: int = 200
    """How long an idle processor waits for items before it polls again."""

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    api_keys: str = ""
    """Organisers' keys, comma-separated: `key:programme`, or `sha256:<hex digest of the
    key>:programme` so that the key itself is stored nowhere. Empty in development mode: the
    local `dev-key` for programme `default`."""
    link_secret: str = DEV_LINK_SECRET
    """Signs customers' login links (LOYALTY_LINK_SECRET); changing it invalidates every link
    unless the old secret stays in `link_previous_secrets`."""
    link_previous_secrets: str = ""
    """Earlier link secrets, comma-separated: links they signed still open the bonus window
    (until they expire); new links are signed with `link_secret` alone. For rotating it."""
    link_ttl_days: int = 30
    """How long a login link is valid after it was issued."""
    login_rate_per_link: str = "10/minute"
    login_rate_per_address: str = "30/minute"
    """How many logins through the bonus window one link, and one client address, may make
    (a `limits` rate, e.g. `10/minute`)."""
    max_login_body_bytes: int = 4096
    """The largest login form the bonus window reads (its one field is about 60 bytes); a
    larger body is refused with 413 before it is read."""

    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)
    """Wraps every customer's data key (personal data at rest, docs/privacy.md): 32 random
    bytes as 64 hex digits (`openssl rand -hex 32`)."""
    previous_master_keys: SecretStr = SecretStr("")
    """Earlier master keys, comma-separated, still able to unwrap the keys they wrapped until
    `loyalty privacy rotate-master-key` wrapped them again with `master_key`."""
    events_personal_data: Literal["omit", "include"] = "omit"
    """Whether `loyalty.events` carries the customers' phone, e-mail and message texts:
    `omit` (the default) leaves them out; `include` publishes them as stored, which erasure
    cannot reach once consumed (docs/privacy.md)."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    """Where a service serves its Prometheus metrics (0: nowhere); unset: the service's own
    default port (`METRICS_PORTS`), so that the services of one host never collide."""
    metrics_count_seconds: float = 60.0
    """How often, at most, the API's /metrics counts customers and item outcomes by status
    (each a scan of a read-model table), in the background of a scrape."""

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password",
                     "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
                     "kafka_ssl_key_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("master_key", "previous_master_keys")
    @classmethod
    def _master_keys_are_32_bytes(cls, value: SecretStr) -> SecretStr:
        for key in filter(None, (part.strip() for part in value.get_secret_value().split(","))):
            try:
                if len(bytes.fromhex(key)) != 32:
                    raise ValueError
            except ValueError:
                raise ValueError("a master key is 32 bytes written as 64 hex digits "
                                 "(`openssl rand -hex 32`)") from None
        return value

    def master_keys(self) -> list[bytes]:
        """The master key, then the previous ones (for unwrapping only)."""
        keys = [self.master_key.get_secret_value(), *self.previous_master_keys.get_secret_value()
                .split(",")]
        return [bytes.fromhex(key.strip()) for key in keys if key.strip()]

    @model_validator(mode="after")
    def _kafka_connects(self) -> Self:
        problems = self.kafka_problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def kafka_problems(self) -> list[str]:
        """What keeps the Kafka settings from working together: SASL without a mechanism or
        credentials, SASL or TLS settings the protocol would ignore, files that cannot be read,
        more in-sync replicas than replicas."""
        return self._sasl_problems() + self._tls_problems() + self._replica_problems()

    def _sasl_problems(self) -> list[str]:
        protocol = self.kafka_security_protocol
        named = {"LOYALTY_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
                 "LOYALTY_KAFKA_SASL_USERNAME": self.kafka_sasl_username,
                 "LOYALTY_KAFKA_SASL_PASSWORD": self.kafka_sasl_password}
        if protocol.startswith("SASL_"):
            return [f"LOYALTY_KAFKA_SECURITY_PROTOCOL={protocol} needs {name}"
                    for name, value in named.items() if value is None]
        return [f"{name} is set, but LOYALTY_KAFKA_SECURITY_PROTOCOL={protocol} uses no SASL: "
                f"set it to SASL_SSL (or SASL_PLAINTEXT), or unset {name}"
                for name, value in named.items() if value is not None]

    def _tls_problems(self) -> list[str]:
        protocol = self.kafka_security_protocol
        files = {"LOYALTY_KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
                 "LOYALTY_KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
                 "LOYALTY_KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile}
        problems = [] if protocol.endswith("SSL") else [
            f"{name} is set, but LOYALTY_KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS: set "
            f"it to SSL or SASL_SSL, or unset {name}"
            for name, value in files.items() if value is not None]
        problems += [f"{name}: {value} {why}" for name, value in files.items()
                     if value is not None and (why := unreadable_file(value))]
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            problems.append("LOYALTY_KAFKA_SSL_KEYFILE is set without "
                            "LOYALTY_KAFKA_SSL_CERTFILE, the certificate it belongs to")
        if self.kafka_ssl_key_password is not None and not self.kafka_ssl_certfile:
            problems.append("LOYALTY_KAFKA_SSL_KEY_PASSWORD is set without a client key "
                            "(LOYALTY_KAFKA_SSL_CERTFILE, LOYALTY_KAFKA_SSL_KEYFILE)")
        return problems

    def _replica_problems(self) -> list[str]:
        if self.topic_min_insync_replicas <= self.topic_replication_factor:
            return []
        return [f"LOYALTY_TOPIC_MIN_INSYNC_REPLICAS ({self.topic_min_insync_replicas}) exceeds "
                f"LOYALTY_TOPIC_REPLICATION_FACTOR ({self.topic_replication_factor}): no write "
                "with acks=all could succeed"]

    @field_validator("event_types", "operation_types", "programmes", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def commands_topics(self) -> list[str]:
        """The topics commands come in on: one per programme, or the shared one."""
        if not self.topics_per_programme:
            return [self.commands_topic]
        return [topics.of_programme(self.commands_topic, p) for p in self.programmes]

    def results_topics(self) -> list[str]:
        """The topics results go out on: one per programme, or the shared one."""
        if not self.topics_per_programme:
            return [self.results_topic]
        return [topics.of_programme(self.results_topic, p) for p in self.programmes]

    def events_topics(self) -> list[str]:
        if not self.topics_per_programme:
            return [self.events_topic]
        return [topics.of_programme(self.events_topic, p) for p in self.programmes]

    def commands_topic_of(self, programme: str) -> str:
        return self._of(self.commands_topic, programme)

    def results_topic_of(self, programme: str | None) -> str:
        return self._of(self.results_topic, programme)

    def events_topic_of(self, programme: str) -> str:
        return self._of(self.events_topic, programme)

    def programme_of_topic(self, topic: str) -> str | None:
        """The programme whose commands topic this is (None: the shared topic)."""
        if not self.topics_per_programme:
            return None
        prefix = self.commands_topic + "."
        return topic[len(prefix):] if topic.startswith(prefix) else None

    def _of(self, base: str, programme: str | None) -> str:
        if not self.topics_per_programme or programme is None \
                or programme not in self.programmes:
            return base
        return topics.of_programme(base, programme)

    @model_validator(mode="after")
    def _topics_need_programmes(self) -> "Settings":
        if self.topics_per_programme and not self.programmes:
            raise ValueError("LOYALTY_TOPICS_PER_PROGRAMME needs LOYALTY_PROGRAMMES: the "
                             "programmes whose topics to use")
        return self

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

    def _weak_key_programmes(self) -> list[str]:
        """The programmes of plain (not `sha256:`) keys shorter than MIN_API_KEY_CHARS."""
        entries = filter(None, (part.strip() for part in self.api_keys.split(",")))
        return [programme.strip() for key, _, programme in
                (entry.partition(":") for entry in entries if not entry.startswith(HASHED))
                if len(key.strip()) < MIN_API_KEY_CHARS]

    def insecure_master_key(self) -> list[str]:
        """What keeps a service that reads or writes personal data from starting outside
        development mode: the development master key."""
        if not self.dev_mode and self.master_key.get_secret_value() == DEV_MASTER_KEY:
            return ["LOYALTY_MASTER_KEY is the development key: set a key of your own "
                    "(`openssl rand -hex 32`)"]
        return []

    def previous_link_secrets(self) -> list[str]:
        """The earlier link secrets still accepted (`link_previous_secrets`)."""
        return [part.strip() for part in self.link_previous_secrets.split(",") if part.strip()]

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
        problems += self.insecure_master_key()
        previous = self.previous_link_secrets()
        if not self.dev_mode and any(len(secret) < MIN_SECRET_CHARS or secret == DEV_LINK_SECRET
                                     for secret in previous):
            problems.append("LOYALTY_LINK_PREVIOUS_SECRETS holds the development secret or one "
                            f"shorter than {MIN_SECRET_CHARS} characters")
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
        if not self.dev_mode:
            problems += [f"LOYALTY_API_KEYS has a key of programme {programme!r} shorter than "
                         f"{MIN_API_KEY_CHARS} characters: use a long random key (e.g. "
                         "`openssl rand -hex 24`), or configure it as `sha256:<hex>:programme`"
                         for programme in self._weak_key_programmes()]
        for digest, programme in keys:
            if len(digest) != hashlib.sha256().digest_size:
                problems.append("a sha256: key of LOYALTY_API_KEYS is not 64 hex digits")
            if not topics.is_programme_name(programme) or (
                    self.programmes and programme not in self.programmes):
                problems.append(f"LOYALTY_API_KEYS names a programme that is not served: "
                                f"{programme!r}")
        return problems


def unreadable_file(path: str) -> str | None:
    """Why the file cannot be read (None when it can)."""
    if not Path(path).is_file():
        return "does not exist" if not Path(path).exists() else "is not a file"
    return None if os.access(path, os.R_OK) else "cannot be read (permissions)"


def problems_of(error: ValidationError) -> list[str]:
    """What is wrong with the settings, one line each, naming the environment variables (and
    never their values)."""
    problems = []
    for each in error.errors(include_input=False, include_url=False):
        message = each["msg"].removeprefix("Value error, ")
        field = "_".join(str(part) for part in each["loc"])
        named = f"LOYALTY_{field.upper()}: " if field else ""
        problems += [named + line for line in message.splitlines()]
    return problems
