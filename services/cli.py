"""The `loyalty` command: infrastructure, services, projections, benchmark.

    loyalty up          start Kafka and PostgreSQL (the project's own scripts, no Docker)
    loyalty run         run every service in the foreground; Ctrl-C stops them all
    loyalty down        stop what `up` started
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import structlog
import typer
from pydantic import ValidationError

from projections.migrations import NewerSchemaError
from services.adapters.kafka_access import KafkaAccessError
from services.adapters.kafka_topics import TopicsError
from services.bootstrap import NotPreparedError
from services.settings import Settings, problems_of
from services.supervisor import COMMANDS, instance_counts, supervise

cli = typer.Typer(
    help="Event-sourced loyalty points service: customers, bonus points, messages.",
    no_args_is_help=True,
    add_completion=False,
)

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SERVICES = tuple(COMMANDS)
EXIT_REFUSED = 78
"""The exit status of a command that refuses to start on its configuration (EX_CONFIG): the
settings are not valid, Kafka refuses the credentials or the certificates, a topic cannot be
created, or (`prepare`) a topic differs from the settings. Restarting does not help."""


def deploy_script(name: str, action: str) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(DEPLOY / name), action], env=env, check=False)
    if result.returncode != 0:
        raise typer.Exit(result.returncode)


@cli.command()
def up() -> None:
    """Start Kafka (KRaft, 127.0.0.1:9092) and PostgreSQL (127.0.0.1:5432) for local work and
    prepare them; harmless twice."""
    deploy_script("postgres.sh", "start")
    deploy_script("kafka.sh", "start")
    # Local servers are a development set-up: the development master key is accepted here
    # (a store prepared with it is re-wrapped later by `loyalty privacy rotate-master-key`).
    prepare_with(Settings(), refuse_insecure=False)


@cli.command()
def prepare() -> None:
    """Create the topics and the database tables (idempotent); `up` does it too."""
    prepare_with(Settings(), refuse_insecure=True)


def prepare_with(settings: Settings, *, refuse_insecure: bool) -> None:
    from services.bootstrap import prepare as prepare_everything
    from services.logs import configure_logging
    from services.run import refuse_if_insecure

    configure_logging(settings, "prepare")
    if refuse_insecure:
        refuse_if_insecure(settings, settings.insecure_master_key())  # it wraps the index key
    prepare_everything(settings)


@cli.command()
def down() -> None:
    """Stop the Kafka broker and the PostgreSQL cluster that `up` started."""
    deploy_script("kafka.sh", "stop")
    deploy_script("postgres.sh", "stop")


@cli.command()
def run(
    services: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", help=f"Run only these: {', '.join(SERVICES)}."),
    ] = None,
    scale: Annotated[
        list[str] | None,
        typer.Option("--scale", metavar="SERVICE=N",
                     help="Run N instances of a service, e.g. --scale processor=2 (intake and "
                          "processor share their partitions in one consumer group; at most 9; "
                          "instance k of processor serves metrics on 942k, of intake on "
                          "941k)."),
    ] = None,
) -> None:
    """Run the services in the foreground, each in its own process, restarting any that exits;
    Ctrl-C stops them cleanly."""
    chosen = services or list(SERVICES)
    unknown = set(chosen) - set(SERVICES)
    if unknown:
        raise typer.BadParameter(f"unknown service(s): {', '.join(sorted(unknown))}")
    try:
        counts = dict.fromkeys(chosen, 1) | instance_counts(scale or [], chosen)
    except ValueError as error:
        raise typer.BadParameter(f"--scale {error}") from None
    settings = Settings()
    if "api" in counts:
        from services.run import refuse_if_insecure

        refuse_if_insecure(settings)
    if settings.dev_mode:
        print("loyalty: development mode (LOYALTY_DEV_MODE): the development API key "
              "`dev-key` and link secret are accepted; never expose this", file=sys.stderr)
    prepare()
    raise typer.Exit(supervise(counts, settings))


@cli.command()
def intake() -> None:
    """Stage 1: validate commands from loyalty.commands and answer them at once."""
    from services import run

    run.intake(Settings())


@cli.command()
def processor() -> None:
    """Stage 2: apply items from loyalty.items to customer aggregates, exactly once."""
    from services import run

    run.processor(Settings())


@cli.command()
def relay() -> None:
    """Publish stored item outcomes to loyalty.results and customer events to loyalty.events."""
    from services import run

    run.relay(Settings())


@cli.command()
def clock() -> None:
    """Activate and expire points on time: settle customers with points due."""
    from services import run

    run.clock(Settings())


@cli.command()
def api() -> None:
    """The read API, the command gateway and the bonus window over HTTP."""
    from services import run

    run.api(Settings())


def main() -> None:
    from services.dead_letter_commands import commands as dead_letter_commands
    from services.privacy_commands import commands as privacy_commands
    from services.projection_commands import commands as projections_commands
    from tools.bench.cli import commands as bench_commands

    cli.add_typer(projections_commands, name="projections", help="Read models: run or rebuild.")
    cli.add_typer(bench_commands, name="bench")
    cli.add_typer(dead_letter_commands, name="deadletter")
    cli.add_typer(privacy_commands, name="privacy")
    try:
        cli()
    except ValidationError as error:
        refuse("the settings are not valid", problems_of(error))
    except (KafkaAccessError, TopicsError, NewerSchemaError, NotPreparedError) as error:
        if structlog.is_configured():  # a service: in its log too
            structlog.get_logger(__name__).error("refusing to start", reason=str(error))
        refuse("refusing to start", str(error).splitlines())


def refuse(why: str, problems: list[str]) -> None:
    """Says why, one problem a line, on stderr, and exits with `EXIT_REFUSED`."""
    print(f"loyalty: {why}:\n  - " + "\n  - ".join(problems), file=sys.stderr)
    raise SystemExit(EXIT_REFUSED)


if __name__ == "__main__":
    main()
