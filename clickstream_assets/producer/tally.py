"""The orders a producer run sent, tallied so the revenue models can be held to them (the ``planted_truth`` check).

Counted on the events actually sent: a visit cut short at a day's quota keeps only its first lines, and the figures
follow what was sent, not what the simulator first drew.
"""

from __future__ import annotations

import numpy as np

from clickstream_assets.producer.columnar import PURCHASE, ColumnarSimulator, Events


class OrderTally:
    def __init__(self, sim: ColumnarSimulator):
        self.sim = sim
        self.orders = self.value_cents = self.purchasing_sessions = self.reordering_sessions = 0

    def count(self, events: Events, rows: np.ndarray | None = None) -> None:
        """Add a batch's purchase lines (among ``rows`` when given): a batch holds whole visits, so no order spans
        two batches."""
        lines = np.flatnonzero(events.kind == PURCHASE) if rows is None else rows[events.kind[rows] == PURCHASE]
        if not len(lines):
            return
        self.value_cents += int((self.sim.price_cents[events.product[lines]] * events.quantity[lines]).sum())
        pairs = np.unique(np.stack((events.session[lines].astype(np.int64), events.order[lines]), axis=1), axis=0)
        self.orders += len(pairs)
        per_session = np.unique(pairs[:, 0], return_counts=True)[1]
        self.purchasing_sessions += len(per_session)
        self.reordering_sessions += int((per_session > 1).sum())

    def planted(self) -> dict:
        """Orders per purchasing session and mean order value as sent, beside the rate that drew them."""
        b = self.sim.behaviour
        return {
            "currency": b.currency,
            "orders": self.orders,
            "purchasing_sessions": self.purchasing_sessions,
            "revenue": self.value_cents / 100,
            "orders_per_purchasing_session": round(self.orders / self.purchasing_sessions, 5)
            if self.purchasing_sessions else None,
            "mean_order_value": round(self.value_cents / 100 / self.orders, 4) if self.orders else None,
            "orders_per_purchasing_session_drawn_from": b.orders_per_purchasing_session,
        }
