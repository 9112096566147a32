"""The tamper-evident audit log: every flag change, approval, kill and alert delivery, hash-chained.

Each entry's hash covers the previous entry's hash and the entry's canonical JSON (keys sorted, no
whitespace, UTF-8), so editing, deleting, reordering or inserting an entry breaks every hash from
that point on, and anyone holding the log can check it with `verify` (`abgate audit verify`)
without trusting the warehouse it came from. This module is pure: the chain and its check;
storing and exporting the entries is the caller's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of the first entry


def canonical_json(body: Mapping[str, Any]) -> str:
    """The one text an entry's body hashes as: sorted keys, no spaces, non-ASCII kept, no NaN."""
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(previous_hash: str, body: Mapping[str, Any]) -> str:
    """sha256 over the previous hash and the body's canonical JSON, as hex."""
    digest = hashlib.sha256()
    digest.update(previous_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(body).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One link of the chain: its position, what happened (`body`), and the hashes that tie it to
    the entry before."""

    seq: int
    body: dict[str, Any]
    previous_hash: str
    hash: str

    def line(self) -> str:
        """The entry as one JSONL line of the exported log."""
        return canonical_json(
            {"seq": self.seq, "body": self.body, "prev": self.previous_hash, "hash": self.hash}
        )

    @classmethod
    def from_line(cls, line: str) -> Entry:
        record = json.loads(line)
        return cls(
            int(record["seq"]), dict(record["body"]), str(record["prev"]), str(record["hash"])
        )


def append(chain_head: Entry | None, body: Mapping[str, Any]) -> Entry:
    """The entry that follows `chain_head` (None for the first entry)."""
    body = json.loads(canonical_json(body))  # plain JSON values, exactly as they will verify
    previous = chain_head.hash if chain_head else GENESIS
    seq = chain_head.seq + 1 if chain_head else 1
    return Entry(seq, body, previous, entry_hash(previous, body))


@dataclass(frozen=True)
class Verification:
    """The result of checking a chain: intact, or the first entry that does not hold and why."""

    intact: bool
    entries: int
    first_bad: int | None = None  # seq as written in the bad entry (or its position if unreadable)
    reason: str | None = None

    def __str__(self) -> str:
        if self.intact:
            return f"audit log intact: {self.entries} entries"
        return f"audit log broken at entry {self.first_bad}: {self.reason}"


def verify(entries: Iterable[Entry]) -> Verification:
    """Check every link: consecutive sequence numbers from 1, each entry's previous hash equal to
    the hash of the entry before it, and each hash recomputed from the entry itself."""
    previous, count = GENESIS, 0
    for position, entry in enumerate(entries, start=1):
        count = position
        if entry.seq != position:
            return Verification(
                False,
                count,
                entry.seq,
                f"sequence number {entry.seq} where {position} belongs "
                "(an entry was deleted, inserted or moved)",
            )
        if entry.previous_hash != previous:
            return Verification(
                False,
                count,
                entry.seq,
                "its previous hash does not match the entry before it "
                "(an entry before it was changed, deleted or inserted)",
            )
        if entry_hash(entry.previous_hash, entry.body) != entry.hash:
            return Verification(
                False, count, entry.seq, "its hash does not match its content (edited)"
            )
        previous = entry.hash
    return Verification(True, count)


def verify_lines(lines: Sequence[str]) -> Verification:
    """`verify` over an exported JSONL log; an unreadable line is the first bad entry."""
    entries = []
    for position, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry.from_line(line))
        except (ValueError, KeyError, TypeError) as error:
            return Verification(False, position, position, f"not an audit entry ({error})")
    return verify(entries)
