"""The service's clock: points become available and expire on time, recorded as events.

Run it with `loyalty clock`. Every `LOYALTY_CLOCK_INTERVAL_SECONDS` it asks the read models
which customers have a lot due to become available or to expire, and sends each of them a
`settlePoints` item on the items topic, keyed like the customer's other items, so the
processor that owns the customer records `PointsActivated` and `PointsExpired` (one writer per
customer). Settling is idempotent: a customer settled twice, by a re-run, a restart or a read
model that lags, changes nothing the second time.
"""
