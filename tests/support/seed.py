"""The source document's example request, byte for byte (its `+03` offset, its `200.00`)."""

from pathlib import Path

SEED_REQUEST: bytes = (Path(__file__).parent.parent / "fixtures" / "seed_request.json").read_bytes()
SEED_GUID = "9803d32e-8fcd-4984-a736-9f02f726b3c0"
SEED_LOGIN = "12345678"
