"""``proximity.tracks.TypeCodes``: what depends on a report's type code, looked up once per distinct code."""

from __future__ import annotations

from types import SimpleNamespace

from proximity.tracks import ROLE_CODE, TypeCodes


def _reports(*codes):
    return [SimpleNamespace(type_code=c) for c in codes]


def test_numbers_roles_and_flags_follow_the_codes_seen():
    types = TypeCodes()
    first = types.numbers(_reports("TU95", None, "b52", "A320", "TU95"))
    assert first[0] == first[4] and first[1] == 0 and len(set(first.tolist())) == 4
    assert types.role[first].tolist() == [ROLE_CODE["bomber"], 0, ROLE_CODE["bomber"], 0, ROLE_CODE["bomber"]]
    watched = frozenset({"TU95", "B52"})
    assert types.flags(watched)[first].tolist() == [True, False, True, False, True]
    # codes first seen later are looked up too (the flags cached before them grow)
    later = types.numbers(_reports("F16", "tu160", "B52"))
    assert types.role[later].tolist() == [ROLE_CODE["fighter"], ROLE_CODE["bomber"], ROLE_CODE["bomber"]]
    assert types.flags(watched)[later].tolist() == [False, False, True]


def test_many_distinct_codes_start_the_numbering_again():
    types = TypeCodes(limit=8)
    for k in range(5):  # a feed making up type codes
        nos = types.numbers(_reports(f"X{k}A", f"X{k}B", "TU95"))
        assert len(types.codes) <= 8
        assert types.role[nos].tolist() == [0, 0, ROLE_CODE["bomber"]]
        assert types.flags(frozenset({"TU95"}))[nos].tolist() == [False, False, True]
