"""Why Kafka refuses a client, said at start-up instead of retried for ever.

aiokafka (0.14) reports a failed first connection as `KafkaConnectionError("Unable to bootstrap
from ...")` whatever the cause, and only logs the cause, one record per bootstrap server, at
ERROR on the `aiokafka` logger with the exception among the record's arguments:
`SaslAuthenticationFailed` for wrong credentials, `SSLCertVerificationError` for a broker whose
certificate the client does not trust, a connection the broker closed at once for a client
that speaks another security protocol than the listener. `start_diagnosed` listens to those
records while a client starts, and turns the causes that no retry can cure into a
`KafkaAccessError` that names the settings to check. A broker that does not answer (refused,
timed out) stays what it was: a failure that passes.
"""

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    IllegalSaslStateError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from services.settings import Settings

AUTHENTICATION = (SaslAuthenticationFailed, UnsupportedSaslMechanismError, IllegalSaslStateError,
                  AuthenticationFailedError, AuthenticationMethodNotSupported)


class KafkaAccessError(Exception):
    """Kafka refuses the client for good (credentials, certificates, security protocol):
    retrying cannot help, the settings must change."""


class Startable(Protocol):
    async def start(self) -> None: ...


class _Causes(logging.Handler):
    """Keeps the exceptions that aiokafka's log records carry."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        arguments = record.args if isinstance(record.args, tuple) else ()
        self.errors += [argument for argument in arguments if isinstance(argument, BaseException)]


@contextmanager
def _logged_causes() -> Iterator[list[BaseException]]:
    causes = _Causes()
    logger = logging.getLogger("aiokafka")
    logger.addHandler(causes)
    try:
        yield causes.errors
    finally:
        logger.removeHandler(causes)


async def start_diagnosed(client: Startable, settings: Settings) -> None:
    """Starts an aiokafka client (producer, consumer or admin client). When the brokers refuse
    it for good, raises `KafkaAccessError` saying why and what to check; other failures (a
    broker that does not answer) are raised as they are."""
    with _logged_causes() as errors:
        try:
            await client.start()
        except KafkaConnectionError as error:
            refused = refusal(errors, settings)
            if refused is None:
                raise
            raise KafkaAccessError(refused) from error


def refusal(errors: list[BaseException], settings: Settings) -> str | None:
    """Why the brokers refused the client, and what to check; None when nothing in `errors`
    says that a retry cannot help. Never shows the password."""
    where = f"Kafka at {settings.kafka_bootstrap_servers}"
    protocol = settings.kafka_security_protocol
    if error := _first(errors, AUTHENTICATION):
        return (f"{where} refused the credentials: authentication failed "
                f"({settings.kafka_sasl_mechanism}, user {settings.kafka_sasl_username!r}): "
                f"{error}. Check LOYALTY_KAFKA_SASL_USERNAME, LOYALTY_KAFKA_SASL_PASSWORD and "
                "LOYALTY_KAFKA_SASL_MECHANISM")
    if error := _first(errors, (ssl.SSLCertVerificationError,)):
        verified = getattr(error, "verify_message", None) or error
        return (f"{where}: TLS failed, the broker's certificate is not trusted ({verified}). "
                "Check LOYALTY_KAFKA_SSL_CAFILE (the CA that signed the brokers' "
                "certificates; unset: the system's CAs) and that "
                "LOYALTY_KAFKA_BOOTSTRAP_SERVERS names the brokers as their certificates do")
    if error := _first(errors, (ssl.SSLError,)):
        return (f"{where}: the TLS handshake failed ({error}). Check "
                "LOYALTY_KAFKA_SECURITY_PROTOCOL and, for mutual TLS, "
                "LOYALTY_KAFKA_SSL_CERTFILE and LOYALTY_KAFKA_SSL_KEYFILE")
    if _first(errors, (KafkaConnectionError,)):
        return (f"{where} closed the connection at once: its listener expects another "
                f"security protocol than {protocol} (TLS or SASL?). Check "
                "LOYALTY_KAFKA_SECURITY_PROTOCOL")
    if protocol.endswith("SSL") and _first(errors, (ConnectionResetError,)):
        return (f"{where} reset the connection during the TLS handshake: is its listener a "
                f"TLS one? LOYALTY_KAFKA_SECURITY_PROTOCOL is {protocol}")
    return None


def _first(errors: list[BaseException],
           kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    return next((error for error in errors if isinstance(error, kinds)), None)
