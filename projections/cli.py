"""`loyalty projections run | rebuild`: the read models, mounted by services/cli.py."""

import typer
from tqdm import tqdm

from services.settings import Settings

commands = typer.Typer(help="Read models: follow the event store, or rebuild them from scratch.",
                       no_args_is_help=True)


@commands.command()
def run() -> None:
    """Follow the event store and the validation results forever (Ctrl-C or SIGTERM stops)."""
    from services import run as services

    services.projections(Settings())


@commands.command()
def rebuild() -> None:
    """Drop the read models and fold the whole event store again, then exit.

    Stop `loyalty projections run` first; the pending items from Kafka are kept.
    """
    from projections.runner import rebuild as rebuild_read_models
    from services.bootstrap import as_owner, grant_services
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
