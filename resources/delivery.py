"""Where the producer job sends events: the profile's sink, as a Dagster resource."""

from __future__ import annotations

from abc import ABC, abstractmethod

import dagster as dg

from resources.sinks import FirehoseSink, LocalFirehoseSink, Sink


class Delivery(dg.ConfigurableResource, ABC):
    @abstractmethod
    def open_sink(self) -> Sink: ...


class LocalDelivery(Delivery):
    """Local twin: the Firehose key layout under ``<warehouse>/raw/events``."""

    warehouse: str
    stream_name: str = "clickstream-events"
    raw_prefix: str = "events"
    aggregate: bool = True  # only changes the Firehose bill this sink reports

    def open_sink(self) -> Sink:
        return LocalFirehoseSink(f"{self.warehouse}/raw", stream_name=self.stream_name, prefix=self.raw_prefix,
                                 aggregate=self.aggregate)


class FirehoseDelivery(Delivery):
    """AWS twin: ``PutRecordBatch`` to the delivery stream, with exact retries."""

    stream_name: str
    region: str | None = None
    endpoint_url: str | None = None
    aggregate: bool = True  # many events per record: Firehose bills each record rounded up to 5 KB

    def open_sink(self) -> Sink:
        from resources.aws import client

        return FirehoseSink(client("firehose", self.region, self.endpoint_url, retries=1), self.stream_name,
                            aggregate=self.aggregate)
