"""Synthetic, seeded test data: children who do not exist, with valid-looking records.

Names are built from syllables so they read like names without being anyone's;
UPNs carry a correct check letter; postcodes have the UK shape. The same seed
always gives the same county, so demos and benchmarks are repeatable.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from domain.personal import upn_check_letter

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ou", "y"]
_CODAS = ["", "n", "l", "r", "s", "th", "x", "nd", "m"]
_TOWNS = ["Stevenage", "Hitchin", "Watford", "Hatfield", "Hertford", "Letchworth", "Ware"]
_AREAS = ["SG1", "SG2", "SG4", "SG5", "SG6", "WD17", "WD18", "AL10", "SG12", "SG13", "SG14"]
_STREETS = ["Road", "Lane", "Close", "Avenue", "Way", "Gardens", "Crescent"]
_ETHNICITIES = ["WBRI", "WIRT", "WROM", "MWBC", "ABAN", "BAFR", "CHNE", "OOTH", "REFU"]


class SyntheticCounty:
    """A seeded source of synthetic children and their records."""

    def __init__(self, seed: int = 2026, today: date | None = None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - test data, not secrets
        self.today = today or date.today()

    def word(self, syllables: int) -> str:
        parts = [
            self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + self.rng.choice(_CODAS)
            for _ in range(syllables)
        ]
        return "".join(parts).capitalize()

    def upn(self, la_code: str = "919") -> str:
        body = la_code + "".join(str(self.rng.randrange(10)) for _ in range(9))
        return upn_check_letter(body) + body

    def postcode(self) -> str:
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        return (
            f"{self.rng.choice(_AREAS)} {self.rng.randrange(10)}"
            f"{self.rng.choice(letters)}{self.rng.choice(letters)}"
        )

    def address(self) -> dict[str, Any]:
        return {
            "line1": f"{self.rng.randrange(1, 200)} {self.word(2)} {self.rng.choice(_STREETS)}",
            "town": self.rng.choice(_TOWNS),
            "postcode": self.postcode(),
        }

    def date_of_birth(self, min_age: int = 4, max_age: int = 17) -> date:
        days = self.rng.randrange(min_age * 365, max_age * 365)
        return self.today - timedelta(days=days)

    def child_details(self, **overrides: Any) -> dict[str, Any]:
        surname = self.word(2)
        details: dict[str, Any] = {
            "legal_forenames": self.word(self.rng.choice([1, 2])),
            "legal_surname": surname,
            "date_of_birth": self.date_of_birth().isoformat(),
            "sex": self.rng.choice(["female", "male"]),
            "ethnicity": self.rng.choice(_ETHNICITIES),
            "upn": self.upn() if self.rng.random() < 0.85 else None,
            "address": self.address(),
            "carers": [
                {
                    "name": f"{self.word(1)} {surname}",
                    "relationship": self.rng.choice(["mother", "father", "carer"]),
                    "phone": f"07{self.rng.randrange(10**8, 10**9)}",
                }
            ],
            "flags": {
                "sen_support": self.rng.random() < 0.15,
                "known_to_social_care": self.rng.random() < 0.1,
                "traveller": self.rng.random() < 0.03,
            },
            "notes": f"Synthetic record {self.rng.randrange(10**6)}",
        }
        details.update(overrides)
        return details

    def register_child(self, actor: str = "system:test", **overrides: Any) -> dict[str, Any]:
        return {"actor": actor, "source": "school", "details": self.child_details(**overrides)}

    def school_urn(self) -> str:
        return f"{self.rng.randrange(100000, 150000)}"
