"""The hash chain: intact logs verify; an edited, deleted, reordered or inserted entry is named."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from abgate_pipeline.audit import GENESIS, Entry, append, canonical_json, verify, verify_lines


def chain(n: int = 5) -> list[Entry]:
    entries, head = [], None
    for i in range(n):
        head = append(head, {"kind": "flag_change", "experiment_id": "exp-a", "to_pct": 10 * i})
        entries.append(head)
    return entries


def test_an_intact_chain_verifies():
    result = verify(chain())
    assert result.intact and result.entries == 5 and result.first_bad is None
    assert str(result) == "audit log intact: 5 entries"


def test_each_hash_covers_the_previous_hash_and_the_canonical_body():
    first, second = chain(2)
    assert first.previous_hash == GENESIS and second.previous_hash == first.hash
    expected = hashlib.sha256(
        (first.hash + "\n" + '{"experiment_id":"exp-a","kind":"flag_change","to_pct":10}').encode()
    ).hexdigest()
    assert second.hash == expected


def test_an_edited_entry_is_named():
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], body={**entries[2].body, "to_pct": 100})
    result = verify(entries)
    assert not result.intact and result.first_bad == 3 and "edited" in result.reason


def test_a_deleted_entry_is_named():
    entries = chain()
    del entries[1]
    result = verify(entries)
    assert (result.intact, result.first_bad) == (False, 3)


def test_reordered_entries_are_named():
    entries = chain()
    entries[1], entries[2] = entries[2], entries[1]
    result = verify(entries)
    assert (result.intact, result.first_bad) == (False, 3)


def test_an_inserted_entry_is_named():
    entries = chain()
    forged = append(entries[1], {"kind": "approval", "by": "mallory"})
    entries.insert(2, forged)  # a well-formed entry after 2, but 3 was already taken
    result = verify(entries)
    assert not result.intact and result.first_bad == 3


def test_an_edit_with_its_own_hash_recomputed_still_breaks_the_next_link():
    entries = chain()
    body = {**entries[1].body, "to_pct": 100}
    entries[1] = append(entries[0], body)  # re-hashed, but entry 3 still points at the old hash
    result = verify(entries)
    assert not result.intact and result.first_bad == 3 and "previous hash" in result.reason


def test_the_jsonl_export_round_trips_and_reports_unreadable_lines():
    lines = [e.line() for e in chain()]
    assert verify_lines(lines).intact
    assert [Entry.from_line(line) for line in lines] == chain()
    broken = [*lines[:2], "{not json", *lines[3:]]
    result = verify_lines(broken)
    assert not result.intact and result.first_bad == 3 and "not an audit entry" in result.reason


def test_canonical_json_is_stable_and_refuses_nan():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
