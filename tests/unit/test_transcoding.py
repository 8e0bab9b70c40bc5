"""The orjson decoder must read stored state exactly as the library's own decoder does."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from eventstore.transcoding import cme_transcoder, register_cme_transcodings

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=20),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.timezones()),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _library() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    register_cme_transcodings(transcoder)
    return transcoder


@given(st.dictionaries(st.text(max_size=10), values, max_size=8))
def test_decodes_what_the_library_decodes(state: dict[str, Any]) -> None:
    library = _library()
    data = library.encode(state)
    assert cme_transcoder().decode(data) == library.decode(data)


def test_an_unknown_transcoding_is_refused_by_name() -> None:
    data = b'{"when":{"_type_":"moon_phase","_data_":"waxing"}}'
    with pytest.raises(TranscodingNotRegisteredError, match="moon_phase"):
        cme_transcoder().decode(data)
