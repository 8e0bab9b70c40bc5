"""Synthetic, seeded test data: children who do not exist, with valid-looking records.

Names are built from syllables so they read like names without being anyone's;
UPNs carry a correct check letter; postcodes have the UK shape. The same seed
always gives the same county, so demos and benchmarks are repeatable.
"""

from __future__ import annotations

import copy
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
        self.rng = random.Random(seed)
        self.today = today or date.today()
        self._upns: set[str] = set()

    def word(self, syllables: int) -> str:
        parts = [
            self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + self.rng.choice(_CODAS)
            for _ in range(syllables)
        ]
        return "".join(parts).capitalize()

    def upn(self, la_code: str = "919") -> str:
        """A UPN no other child of this county has: two would be matched as one child."""
        while True:
            body = la_code + "".join(str(self.rng.randrange(10)) for _ in range(9))
            if body not in self._upns:
                self._upns.add(body)
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


class SyntheticTraffic:
    """Upstream messages (plain lines, as `cme publish` reads them) about synthetic children.

    Each child keeps its identity and its sender references across messages, so
    later notices match earlier ones the way real traffic does.
    """

    def __init__(self, county: SyntheticCounty) -> None:
        self.county = county
        self.rng = county.rng
        self.children: list[dict[str, Any]] = []
        self.schools = [county.school_urn() for _ in range(40)]
        self.sequence = 0

    def identity(self) -> dict[str, Any]:
        details = self.county.child_details()
        details.pop("notes", None)
        return details

    def new_child(self) -> dict[str, Any]:
        child = {"identity": self.identity(), "ref": f"ref-{self.rng.getrandbits(64):016x}"}
        self.children.append(child)
        return child

    def pick_child(self, reuse: float = 0.3) -> dict[str, Any]:
        if self.children and self.rng.random() < reuse:
            return self.rng.choice(self.children)
        return self.new_child()

    def line(
        self, message_type: str, payload: dict[str, Any], child: dict[str, Any], sender: str
    ) -> dict[str, Any]:
        self.sequence += 1
        return {
            "message_id": (
                f"{sender.replace(':', '-')}-{self.sequence:08d}-{self.rng.getrandbits(32):08x}"
            ),
            "type": message_type,
            "version": 1,
            "sender": sender,
            "occurred_at": f"{self.county.today.isoformat()}T09:00:00+00:00",
            "subject_ref": child["ref"],
            # A copy: editing one message (a test making it invalid) must not edit the child.
            "payload": copy.deepcopy(payload),
        }

    def _days_ago(self, low: int, high: int) -> str:
        return (self.county.today - timedelta(days=self.rng.randrange(low, high))).isoformat()

    def removal_from_roll(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child()
        school = self.rng.choice(self.schools)
        known = self.rng.random() < 0.4
        payload = {
            "child": child["identity"],
            "school_urn": school,
            "removed_on": self._days_ago(1, 200),
            "deletion_ground": self.rng.choice(
                [
                    "continuous_absence_enquiries_failed",
                    "moved_away",
                    "not_returned_after_leave",
                    "home_education",
                    "registered_elsewhere",
                ]
            ),
            "whereabouts_known": known,
            "reg13": {"notes": "Family not contactable"} if not known else {},
        }
        return self.line("removal_from_roll", payload, child, f"school-mis:{school}")

    def referral(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child()
        professional = self.rng.random() < 0.7
        payload = {
            "child": child["identity"],
            "referrer_type": "professional" if professional else "member_of_public",
            "referrer_name": f"{self.county.word(1)} {self.county.word(2)}",
            "reason": self.rng.choice(["never_registered", "moved_into_area", "other"]),
            "concern": "Child seen during school hours on several days",
            "referred_on": self._days_ago(1, 60),
        }
        return self.line("referral", payload, child, "referral-form:web")

    def continuous_absence(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child()
        school = self.rng.choice(self.schools)
        payload = {
            "child": child["identity"],
            "school_urn": school,
            "absent_since": self._days_ago(14, 40),
            "school_days_absent": self.rng.randrange(10, 25),
        }
        return self.line("continuous_absence", payload, child, f"attendance:{school}")

    def reduced_timetable(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child()
        school = self.rng.choice(self.schools)
        start = self.county.today - timedelta(days=self.rng.randrange(10, 120))
        payload = {
            "child": child["identity"],
            "school_urn": school,
            "hours_per_week": f"{self.rng.randrange(5, 20)}.0",
            "starts_on": start.isoformat(),
            "review_on": (start + timedelta(days=self.rng.randrange(20, 60))).isoformat(),
        }
        return self.line("reduced_timetable", payload, child, f"attendance:{school}")

    def new_pupil_registered(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child(reuse=0.8)
        school = self.rng.choice(self.schools)
        payload = {
            "child": child["identity"],
            "school_urn": school,
            "on_roll_from": self._days_ago(0, 30),
        }
        return self.line("new_pupil_registered", payload, child, f"school-mis:{school}")

    def address_information(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child(reuse=1.0)
        source = self.rng.choice(["housing", "council_tax"])
        payload = {
            "child": child["identity"],
            "address": self.county.address(),
            "effective_from": self._days_ago(1, 90),
            "source": source,
        }
        return self.line("address_information", payload, child, f"{source.replace('_', '-')}:herts")

    def lost_pupil(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child()
        payload = {
            "child": child["identity"],
            "last_school_urn": self.rng.choice(self.schools),
            "reported_on": self._days_ago(1, 30),
        }
        return self.line("lost_pupil", payload, child, "lost-pupil-db:dfe")

    def moved_in_from_la(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.new_child()
        payload = {
            "child": child["identity"],
            "from_la_code": f"{self.rng.randrange(200, 999)}",
            "moved_on": self._days_ago(1, 60),
        }
        return self.line("moved_in_from_la", payload, child, "other-la:873")

    def moved_out_to_la(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child(reuse=0.9)
        payload = {
            "child": child["identity"],
            "to_la_code": f"{self.rng.randrange(200, 999)}",
            "moved_on": self._days_ago(1, 60),
            "confirmed": self.rng.random() < 0.5,
        }
        return self.line("moved_out_to_la", payload, child, "other-la:873")

    def home_education(self, child: dict[str, Any] | None = None) -> dict[str, Any]:
        child = child or self.pick_child()
        payload = {
            "child": child["identity"],
            "school_urn": self.rng.choice(self.schools),
            "notified_on": self._days_ago(1, 30),
        }
        return self.line("home_education", payload, child, "school-mis:ehe")

    MIX = (
        ("removal_from_roll", 30),
        ("referral", 15),
        ("continuous_absence", 15),
        ("reduced_timetable", 10),
        ("new_pupil_registered", 10),
        ("address_information", 6),
        ("lost_pupil", 5),
        ("moved_in_from_la", 4),
        ("moved_out_to_la", 3),
        ("home_education", 2),
    )

    def one_of_each(self, child: dict[str, Any]) -> list[dict[str, Any]]:
        """A notice of every type about ``child`` (the last about a child moving in)."""
        return [
            self.removal_from_roll(child),
            self.continuous_absence(child),
            self.reduced_timetable(child),
            self.new_pupil_registered(child),
            self.address_information(child),
            self.referral(child),
            self.lost_pupil(child),
            self.home_education(child),
            self.moved_out_to_la(child),
            self.moved_in_from_la(),
        ]

    def mixed(self, count: int) -> list[dict[str, Any]]:
        """A realistic mix of notices; the first is always about a new child."""
        names = [name for name, _ in self.MIX]
        weights = [weight for _, weight in self.MIX]
        lines = [self.removal_from_roll(self.new_child())]
        for _ in range(count - 1):
            lines.append(getattr(self, self.rng.choices(names, weights)[0])())
        return lines
