"""Each command type an organiser may send, declared once.

A declaration names the command (`typeOfCommand`), the field of the command that lists its
items, and the domain command each item becomes; the domain command declares every field of
the item once, with its kind (`services.domain.kinds`), and the domain registers the use case
that handles it (`services.domain.handlers`). From these:

- stage 1 checks an item with a model made from the domain command's fields
  (`services.contract.items`);
- the item travels on `loyalty.items` in a `WorkItem` and becomes its domain command again
  (`services.contract.mapping.command_of`);
- the unit of work hands it to its handler;
- the gateway's request schema and the published JSON Schemas are made from the same models
  (`services.contract.schemas`).

Adding a command type is a declaration here, its domain command and its handler; adding a
field is a line in the domain command (docs/architecture.md shows the diff).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from services.contract.commands import CommandType
from services.domain import commands as domain


@dataclass(frozen=True, eq=False)
class Declaration:
    """One command type, as organisers send it (each one is itself alone: compared and hashed
    by identity, so what is derived from it is cached per declaration)."""

    name: str
    """Its `typeOfCommand`."""
    items_under: str
    """The field of the command that lists its items."""
    command: type[domain.Item]
    """The domain command each item becomes."""
    description: str
    constants: Mapping[str, Any] = field(default_factory=dict)
    """Fields of the domain command fixed by the command type (addBonusExtQuick: quick)."""
    leaves_out: tuple[str, ...] = ()
    """Fields of the domain command that organisers do not send with this command type."""


BUILT_IN = (
    Declaration(CommandType.ADD_CUSTOMER_POINT_MESSAGE, "add", domain.AddBonus,
                "Create customers (New), accrue points, queue information messages."),
    Declaration(CommandType.ADD_BONUS_EXT_QUICK, "add", domain.AddBonus,
                "Create customers directly Active and accrue points; no messages.",
                constants={"quick": True}, leaves_out=("message",)),
    Declaration(CommandType.BLOCK_CUSTOMERS, "customers", domain.BlockCustomer,
                "Block customers."),
    Declaration(CommandType.ACTIVATE_CUSTOMERS, "customers", domain.ActivateCustomer,
                "Unblock (or activate New) customers."),
    Declaration(CommandType.AUTHORIZE_CUSTOMER, "customers", domain.AuthorizeCustomer,
                "A customer logged in: activates New, shows the messages due."),
    Declaration(CommandType.REVOKE_LINKS, "customers", domain.RevokeLinks,
                "Every login link issued to the customer so far stops working."),
    Declaration(CommandType.REVERSE_BONUS, "reverse", domain.ReverseBonus,
                "Take back all or part of an accrual, e.g. on a refund."),
    Declaration(CommandType.SPEND_BONUS, "spend", domain.SpendBonus, "Spend active points."),
    Declaration(CommandType.CANCEL_SPEND, "cancel", domain.CancelSpend,
                "Give back all or part of a spend."),
    Declaration(CommandType.ERASE_CUSTOMER, "customers", domain.EraseCustomer,
                "Erase customers' personal data (phone, e-mail, messages); their points and "
                "operations stay (docs/privacy.md)."),
)

DECLARATIONS: dict[str, Declaration] = {declaration.name: declaration
                                        for declaration in BUILT_IN}
"""Every command type organisers may send, by name."""


def declared(name: object) -> Declaration | None:
    """The declaration of a command type (None: no such command)."""
    return DECLARATIONS.get(name) if isinstance(name, str) else None


@contextmanager
def declaring(declaration: Declaration) -> Iterator[Declaration]:
    """One more command type while the block runs (tests declare made-up ones)."""
    DECLARATIONS[declaration.name] = declaration
    try:
        yield declaration
    finally:
        del DECLARATIONS[declaration.name]
