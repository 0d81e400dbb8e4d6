"""`loyalty bench --profile`: each sample is counted once, under the innermost heading its
stack passes through, so the shares of a service add up to the whole."""

import pytest

from tools.bench.profile import EVENT_LOOP, HEADINGS, OTHER, shares, summary_table

BATCH = "<module> (cli.py:1);ItemProcessor.process (batches.py:10)"
SAVE = f"{BATCH};ItemProcessor.save (batches.py:160);EventStore.put (persistence.py:1)"
RAW = [
    f"{BATCH};UnitOfWork.apply (unit_of_work.py:60);ItemOutcome.record (outcomes.py:27) 30",
    f"{BATCH};UnitOfWork.apply (unit_of_work.py:60);Customer.add_bonus (customer.py:130) 50",
    f"{SAVE};SealingMapper.to_stored_event (p.py:520);Mapper.to_stored_event (p.py:397) 40",
    f"{SAVE};insert_events (eventsourcing_internals.py:200) 30",
    "BaseEventLoop._run_once (base_events.py:1);EpollSelector.select (selectors.py:468) 20",
    "Thread._bootstrap (threading.py:1);_worker (thread.py:81) 30",
    "not a sample line",
]


def test_each_sample_counts_once_under_its_innermost_heading() -> None:
    found = shares(RAW, HEADINGS["processor"])

    assert found == pytest.approx({
        "applying the items to the aggregates": 0.25,
        "encoding the events (the transcoder)": 0.2,
        "recording each item's outcome (ItemOutcome)": 0.15,
        "inserting the events and the positions": 0.15,
        OTHER: 0.15,
        EVENT_LOOP: 0.1,
    })
    assert next(iter(found)) == "applying the items to the aggregates", "largest first"


def test_the_summary_names_each_service_and_says_when_it_has_no_samples() -> None:
    text = summary_table({"relay": {"producing (aiokafka)": 0.625, OTHER: 0.375},
                          "intake": {}})

    assert text == ("relay\n 62.5 %  producing (aiokafka)\n 37.5 %  " + OTHER
                    + "\n\nintake\n  no samples")
