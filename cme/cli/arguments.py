"""How the command line reads what it is given: one line for every mistake, no value echoed."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn
from uuid import UUID


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def an_id(text: str) -> UUID:
    """An id on the command line; what was typed is never repeated (it may be a name)."""
    try:
        return UUID(text)
    except ValueError:
        msg = "not an id (ids are UUIDs, such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427)"
        raise argparse.ArgumentTypeError(msg) from None
