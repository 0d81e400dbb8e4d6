"""`loyalty projections run | rebuild | verify`: the read models, mounted by services/cli.py.

An entry point, beside `services.dead_letter_commands`: it runs the projections service
(`services.run`) and builds what rebuild and verify use through the composition root
(`services.bootstrap`), so `projections/` itself imports no entry point.
"""

from datetime import datetime
from typing import Annotated

import typer
from tqdm import tqdm

from services.settings import Settings

commands = typer.Typer(help="Read models: follow the event store, verify them against it, or "
                            "rebuild them from scratch.", no_args_is_help=True)


@commands.command()
def run() -> None:
    """Follow the event store and the validation results forever (Ctrl-C or SIGTERM stops)."""
    from services import run as services

    services.projections(Settings())


@commands.command()
def rebuild() -> None:
    """Drop the read models and fold the whole event store again, then exit.

    A running `loyalty projections run` need not be stopped: it finds the read models reset
    and follows on from where the rebuild leaves them. The pending items from Kafka are kept.
    """
    from services.bootstrap import as_owner, grant_services, rebuild_read_models
    from services.logs import configure_logging

    settings = Settings()
    configure_logging(settings, "projections")
    with tqdm(desc="read models", unit="event") as bar:

        def progress(position: int, head: int) -> None:
            bar.total = head
            bar.update(position - bar.n)

        head = rebuild_read_models(as_owner(settings), progress)
    grant_services(settings)
    typer.echo(f"read models rebuilt up to notification {head}")


@commands.command()
def verify(
    programme: Annotated[str | None, typer.Option(
        help="Only this programme's customers and items.")] = None,
    customer: Annotated[str | None, typer.Option(
        help="Only this customer (its uniqId; with --programme, else programme `default`).")
    ] = None,
    since: Annotated[datetime | None, typer.Option(
        help="Only customers and items with an event at or after this instant.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    limit: Annotated[int, typer.Option(help="Print at most this many differences.")] = 100,
) -> None:
    """Compare every read-model row with a fold of the event store; exit 1 on any difference.

    Customers, their lots, bonus operations and messages, and item outcomes are folded again
    from their events (in a transaction that is rolled back: nothing changes) and compared
    with what the read models hold; events left out of the read models (quarantined) count as
    differences. The result is recorded and shown by /healthz. `rebuild` repairs.
    """
    from projections.verify import Scope, report_json, verify_read_models
    from services.bootstrap import read_models_writer
    from services.logs import configure_logging

    settings = Settings()
    configure_logging(settings, "projections")
    scope = Scope(programme=programme, customer=customer, since=since)
    with tqdm(desc="verified", unit="aggregate", disable=as_json) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = verify_read_models(read_models_writer(settings), scope, progress)
    if as_json:
        typer.echo(report_json(report))
    else:
        for difference in report.differences[:limit]:
            typer.echo(str(difference))
        if len(report.differences) > limit:
            typer.echo(f"... and {len(report.differences) - limit} more")
        typer.echo(f"{report.aggregates} aggregates verified up to notification "
                   f"{report.position}: {len(report.differences)} differences"
                   f" ({report.quarantined} events quarantined)")
    raise typer.Exit(0 if report.ok else 1)
