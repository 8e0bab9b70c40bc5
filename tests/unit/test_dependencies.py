"""Dependencies whose absence only shows as slowness: checked, so a missing extra fails loudly."""

from __future__ import annotations


def test_kafka_python_checks_crc32c_with_the_c_extension() -> None:
    """Without the ``crc32c`` extra kafka-python checks every batch in pure Python (#16).

    That cost 0.14-0.93 s per MiB here and made consumers, and every
    benchmark reference built on a raw consumer, ten times slower.
    """
    from kafka.record import util

    assert util.crc32c_c is not None, "install kafka-python[crc32c] (pyproject does)"
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
