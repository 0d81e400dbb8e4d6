"""A second processor joins the group before any item arrived: the partitions it and the first
one are handed have no committed offset (positions live in the event store), and neither
processor may take that for a broken record and fall back to reading one record at a time."""

import uuid

import pytest

from tests.support.pipeline import Organiser, Pipeline, processing_of

pytestmark = pytest.mark.e2e

ITEMS = 400
FAULT = "records could not be read"


def test_processors_joining_on_fresh_partitions_read_them_in_batches(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    pipeline.start("processor-b", "processor")
    pipeline.wait_for_group("processor", members=2)
    items = [{"guid": str(uuid.uuid4()), "uniqId": f"scale-{n}-{uuid.uuid4().hex[:6]}",
              "amount": "2.50", "eventId": f"s{n}", "eventDate": "2024-01-01T00:00:00Z",
              "eventType": "operation"} for n in range(ITEMS)]
    for start in range(0, ITEMS, 50):
        organiser.send({"typeOfCommand": "addCustomerPointMessage",
                        "add": items[start:start + 50]})

    guids = [item["guid"] for item in items]
    organiser.wait_for(lambda rs: all(processing_of(rs, g) for g in guids), timeout=180)

    assert all(processing_of(organiser.results, g)[0]["status"] == "Success" for g in guids)
    for name in ("processor", "processor-b"):
        log = (pipeline.log_dir / f"{name}.log").read_text(errors="replace")
        assert FAULT not in log, f"{name} took a fresh assignment for an unreadable record"
