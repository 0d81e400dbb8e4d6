"""The customer domain: pure rules of stage 2 (SPEC §5), no Kafka, no database, no I/O.

`CustomerBook` applies items; `CustomerApplication` stores what it recorded. Aggregates:
`Customer`, `PhoneIndex`, `EmailIndex` and `ItemOutcome` in the `domain` package.
"""

from services.customers.application import CustomerApplication, register_transcodings
from services.customers.domain import Customer, CustomerStatus, EmailIndex, ItemOutcome, PhoneIndex
from services.customers.identity_map import Loader
from services.customers.processing import CustomerBook

__all__ = [
    "Customer",
    "CustomerApplication",
    "CustomerBook",
    "CustomerStatus",
    "EmailIndex",
    "ItemOutcome",
    "Loader",
    "PhoneIndex",
    "register_transcodings",
]
