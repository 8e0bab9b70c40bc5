"""How event state becomes bytes and back: the library's JSON format, read faster.

Stored state stays exactly what the library's ``JSONTranscoder`` writes (so
any reader with the library can decode it). Decoding parses with orjson and
then applies the same ``{"_type_", "_data_"}`` transcodings, innermost first,
as the library's object hook does: a full replay spent half its time in the
standard ``json`` module's hook calls.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)


class DateAsISO(Transcoding):
    """The library transcodes datetimes but not dates; CME events are full of dates."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CMETranscoder(JSONTranscoder):
    """The library's JSON transcoder with an orjson decoder.

    Containers are restored in place, innermost first, which is the order the
    library's object hook sees them in.
    """

    def decode(self, data: bytes) -> Any:
        obj = orjson.loads(data)
        if type(obj) is not dict:
            return self._restore(obj)
        # The common case inline: a top-level value that is one transcoded scalar.
        names = self.names
        for key, value in obj.items():
            if type(value) is dict:
                scalar = value.get("_data_")
                name = value.get("_type_")
                transcoding = names.get(name) if type(name) is str else None
                if len(value) == 2 and type(scalar) is str and transcoding is not None:
                    obj[key] = transcoding.decode(scalar)
                else:
                    obj[key] = self._restore(value)
            elif type(value) is list:
                obj[key] = self._restore(value)
        return obj

    def _restore(self, obj: Any) -> Any:
        if type(obj) is list:
            for index, value in enumerate(obj):
                if type(value) is dict or type(value) is list:
                    obj[index] = self._restore(value)
            return obj
        if type(obj) is not dict:
            return obj
        for key, value in obj.items():
            if type(value) is dict or type(value) is list:
                obj[key] = self._restore(value)
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            name = obj["_type_"]
            transcoding = self.names.get(name)
            if transcoding is None:
                msg = f"Data serialized with name '{name}' is not deserializable."
                raise TranscodingNotRegisteredError(msg)
            return transcoding.decode(obj["_data_"])
        return obj


def register_cme_transcodings(transcoder: JSONTranscoder) -> None:
    """The value types CME events carry, for every mapper that reads them."""
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    transcoder.register(DateAsISO())


def cme_transcoder() -> CMETranscoder:
    transcoder = CMETranscoder()
    register_cme_transcodings(transcoder)
    return transcoder
