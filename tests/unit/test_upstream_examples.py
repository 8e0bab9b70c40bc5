"""The README's example messages are valid against the contract (as `cme publish` checks)."""

from __future__ import annotations

import json
from datetime import date

from cme.settings import PROJECT_ROOT
from consumers.contract import MessageType
from consumers.envelopes import seal_line
from devtools.senders import AutoRegisteringSenders
from tests.intake_support import dev_intake_keys

EXAMPLES = PROJECT_ROOT / "examples" / "upstream" / "all-types.jsonl"
SENDERS = AutoRegisteringSenders(lambda sender, public_key: None)
"""Each example's sender gets a key; nothing reads a register here."""


def test_one_valid_example_per_message_type() -> None:
    keys = dev_intake_keys()
    lines = [json.loads(text) for text in EXAMPLES.read_text().splitlines() if text.strip()]
    seen = set()
    for line in lines:
        envelope, _ = seal_line(
            line, keys.current, keys.public_key(), SENDERS, today=date(2026, 11, 30)
        )
        seen.add(envelope.type)
    assert seen == set(MessageType)
