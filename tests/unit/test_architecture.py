"""The layers of docs/architecture.md, checked on the import graph with import-linter.

The contracts live in pyproject.toml ([tool.importlinter]): events/ imports no service and no
wire model; no domain module reaches pydantic, psycopg, aiokafka or fastapi, directly or
through project modules; and imports point one way, from the CLI down to events/: the commands
and tools (tools/, `loyalty projections`, `loyalty deadletter`), the process runners, the
composition root, the services, the read models (projections/), the adapters, the settings, the
wire contract, the domain. That only the composition root builds infrastructure is
tests/unit/test_composition_root.py's business.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_graph_keeps_every_layer_contract() -> None:
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", "pyproject.toml",
         "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert "3 kept, 0 broken" in checked.stdout
