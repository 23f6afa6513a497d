"""`hub hash FILE... [--json]`: SHA-256, MD5 and PDQ of image files, computed here and never uploaded.

For each file it prints the `hashes` array of a takedown request's content locator, ready to paste. A file
that is not an image still gets its SHA-256 and MD5, with a note and a one-line error; a missing file is
refused. A PDQ of quality below 50 is flagged, and an all-zero PDQ (a featureless image) is left out. The
exit status is 1 if any file was refused or got no PDQ, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.hashing import LOW_QUALITY, FileHashes, HashingError, Pdq, digests, pdq_of_file


@dataclass
class Report:
    file: str
    hashes: FileHashes
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        pdq = self.hashes.pdq
        return {
            "file": self.file,
            "sha256": self.hashes.sha256,
            "md5": self.hashes.md5,
            "pdq": pdq.value if pdq is not None and pdq.usable else None,
            "pdq_quality": None if pdq is None else pdq.quality,
            "low_quality": pdq is not None and pdq.low_quality,
            "notes": self.notes,
            "hashes": self.hashes.locators(),
        }

    def lines(self) -> list[str]:
        shown = [self.file, f"  sha256   {self.hashes.sha256}", f"  md5      {self.hashes.md5}"]
        pdq = self.hashes.pdq
        if pdq is not None and pdq.usable:
            flag = "  LOW QUALITY" if pdq.low_quality else ""
            shown.append(f"  pdq      {pdq.value}  quality {pdq.quality}{flag}")
        shown += [f"  note     {note}" for note in self.notes]
        shown.append("  hashes   " + json.dumps(self.hashes.locators()))
        return shown


def hash_one(path: Path) -> tuple[Report, str | None]:
    """The file's report, and the one-line error to print if its PDQ was refused. Raises HashingError
    for a file that cannot be read at all."""
    found = digests(path)
    try:
        pdq = pdq_of_file(path)
    except HashingError as exc:
        return Report(str(path), found, ["no PDQ: only the file's exact copies can be matched"]), str(exc)
    return Report(str(path), FileHashes(found.sha256, found.md5, pdq), _notes(pdq)), None


def _notes(pdq: Pdq) -> list[str]:
    if not pdq.usable:
        return ["the PDQ is all zeros (an image without detail): left out, as it would match any such image"]
    if pdq.low_quality:
        return [
            f"PDQ quality {pdq.quality} is below {LOW_QUALITY}: the image has too little detail for "
            "near-copies to be matched reliably"
        ]
    return []


def cmd_hash(args: argparse.Namespace) -> int:
    reports: list[Report] = []
    failed = False
    for name in args.files:
        try:
            report, refusal = hash_one(Path(name))
        except HashingError as exc:
            print(f"hub: error: {exc}", file=sys.stderr)
            failed = True
            continue
        if refusal is not None:
            print(f"hub: error: {refusal}", file=sys.stderr)
            failed = True
        reports.append(report)
    if args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    elif reports:
        print("\n\n".join("\n".join(r.lines()) for r in reports))
    return 1 if failed else 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hashing = commands.add_parser("hash")
    hashing.add_argument("files", nargs="+", metavar="FILE")
    hashing.add_argument("--json", action="store_true", help="one JSON array, an object per file")
