"""What the workers need to know of the configuration, as a protocol the settings satisfy.

The settings themselves belong to the composition root (``cme.settings``);
workers read only these few values, so they depend on nothing above them.
"""

from __future__ import annotations

from typing import Protocol


class KafkaSettings(Protocol):
    @property
    def topic_upstream(self) -> str: ...

    @property
    def topic_quarantine(self) -> str: ...

    @property
    def topic_events(self) -> str: ...

    @property
    def kafka_group_prefix(self) -> str: ...

    @property
    def kafka_session_timeout_ms(self) -> int: ...

    @property
    def kafka_instance_id(self) -> str | None: ...

    @property
    def intake_batch_size(self) -> int: ...

    def require_kafka(self) -> str: ...
