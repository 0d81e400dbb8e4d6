"""`loyalty privacy migrate | rotate-master-key`: personal data at rest (docs/privacy.md)."""

import typer
from tqdm import tqdm

from services.settings import Settings

commands = typer.Typer(help="Personal data: seal what an earlier release stored in the clear, "
                            "or wrap every data key again with a new master key.",
                       no_args_is_help=True)


@commands.command()
def migrate() -> None:
    """Seal the personal data a store made before this release holds in the clear, and name
    its phone and e-mail indexes by keyed hashes. Stop the processor first; run once after
    `loyalty prepare` (running it again changes nothing)."""
    from services import bootstrap
    from services.adapters.privacy_migration import migrate as migrate_store
    from services.logs import configure_logging

    settings = Settings()
    configure_logging(settings, "privacy")
    owner = bootstrap.as_owner(settings)
    store = bootstrap.event_store(owner)
    try:
        with tqdm(desc="events", unit="event") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            changed = migrate_store(store, owner.postgres_dsn, progress)
    finally:
        store.close()
    typer.echo(f"personal data sealed in {changed} events; the store is migrated")


@commands.command("rotate-master-key")
def rotate_master_key() -> None:
    """Wrap every data key again with LOYALTY_MASTER_KEY. Run it with the earlier master key in
    LOYALTY_PREVIOUS_MASTER_KEYS; afterwards it may be removed from there."""
    from services.adapters.personal_data import MasterKeys
    from services.adapters.privacy_migration import rotate_master_key as rotate
    from services.logs import configure_logging

    settings = Settings()
    configure_logging(settings, "privacy")
    with tqdm(desc="data keys", unit="key") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        rotated = rotate(settings.postgres_dsn, MasterKeys(settings.master_keys()), progress)
    typer.echo(f"{rotated} data keys wrapped with the current master key")
