"""docs/operations.md names every variable the services and the scripts read, and no other."""

import re
from pathlib import Path

from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs/operations.md").read_text()
VARIABLE = re.compile(r"`(LOYALTY_[A-Z0-9_]+)`")


def section(title: str) -> str:
    start = OPERATIONS.index(f"\n## {title}\n")
    end = OPERATIONS.find("\n## ", start + 1)
    return OPERATIONS[start:end if end != -1 else None]


def tables(text: str) -> list[list[str]]:
    """The first cells of each markdown table of `text`, one list per table."""
    found: list[list[str]] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("|"):
            if not in_table:
                found.append([])
                in_table = True
            found[-1].append(line.split("|")[1])
        else:
            in_table = False
    return found


def settings_variables() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def script_variables() -> set[str]:
    """The LOYALTY_ variables the scripts of deploy/ and the compose file read, beyond the
    services' settings."""
    texts = [path.read_text() for path in (ROOT / "deploy").rglob("*")
             if path.is_file() and path.suffix in {".sh", ".py", ""} and "kubernetes" not in
             path.parts]
    texts.append((ROOT / "docker-compose.yml").read_text())
    read = {name for text in texts for name in re.findall(r"LOYALTY_[A-Z0-9_]*[A-Z0-9]", text)}
    return read - settings_variables()


def test_the_settings_table_is_every_setting_the_services_read() -> None:
    settings_table, _ = tables(section("Configuring"))
    documented = {name for cell in settings_table for name in VARIABLE.findall(cell)}

    assert documented == settings_variables(), (
        f"undocumented: {sorted(settings_variables() - documented)}; "
        f"documented but read by nothing: {sorted(documented - settings_variables())}")


def test_the_scripts_table_is_every_variable_the_scripts_read() -> None:
    _, scripts_table = tables(section("Configuring"))
    documented = {name for cell in scripts_table for name in VARIABLE.findall(cell)}

    assert script_variables() <= documented, sorted(script_variables() - documented)
    assert not documented & settings_variables()


def test_every_file_the_guide_names_exists() -> None:
    named = set(re.findall(r"`?((?:deploy|docs|tests|projections|services)/[\w./-]+\w)`?",
                           OPERATIONS))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert named and not missing, missing
