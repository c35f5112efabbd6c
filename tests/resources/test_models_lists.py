"""List and contact models: every custom-field shape, and the slot-name converter."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from smsapi_async.models import Contact, ContactList, ListFieldsUpdate
from smsapi_async.models.lists import slot_fields

slots = st.integers(min_value=1, max_value=10)
names = st.text(min_size=0, max_size=20)


@given(st.dictionaries(slots, names, max_size=10))
def test_slot_fields_reads_every_shape_alike(named: dict[int, str]) -> None:
    expected = {f"field_{n}": name for n, name in named.items()}
    as_map = {f"field_{n}": name for n, name in named.items()}
    as_array = [{"name": f"field_{n}", "value": name} for n, name in named.items()]
    as_custom = [{"name": f"custom_{n}", "value": name} for n, name in named.items()]
    assert slot_fields(as_map) == slot_fields(as_array) == slot_fields(as_custom) == expected


@given(st.one_of(st.none(), st.just(""), st.just([]), st.just({})))
def test_slot_fields_empty_shapes(empty: Any) -> None:
    assert slot_fields(empty) == {}


@given(st.dictionaries(st.text(min_size=1, max_size=15), st.one_of(names, st.integers()), max_size=8))
def test_contact_fields_map_and_array_agree(values: dict[str, Any]) -> None:
    as_array = [{"name": key, "value": value} for key, value in values.items()]
    from_map = Contact.from_api({"list_id": 1, "msisdn": 61400000000, "fields": values})
    from_array = Contact.from_api({"list_id": 1, "msisdn": "61400000000", "fields": as_array})
    assert from_map == from_array
    assert from_map.fields == {key: str(value) for key, value in values.items()}


def test_contact_accepts_legacy_name_spellings_and_t_z_timestamps() -> None:
    contact = Contact.from_api(
        {
            "msisdn": "+61400000000",
            "firstname": "Ann",
            "lastname": "Lee",
            "created_at": "2020-06-18T02:42:06Z",
        }
    )
    assert (contact.msisdn, contact.first_name, contact.last_name) == ("61400000000", "Ann", "Lee")
    assert contact.created_at is not None
    assert contact.created_at.isoformat() == "2020-06-18T02:42:06+00:00"


def test_contact_list_keeps_unknown_keys_in_extra() -> None:
    listed = ContactList.from_api({"id": "5", "name": "x", "fields": [], "colour": "blue"})
    assert (listed.id, listed.members_total, listed.extra) == (5, None, {"colour": "blue"})


def test_list_fields_update_merges_top_level_and_nested_slots() -> None:
    update = ListFieldsUpdate.from_api(
        {"id": 3, "custom_5": "Shoe size", "fields": [{"name": "custom_4", "value": "Handset"}]}
    )
    assert update.fields == {"field_4": "Handset", "field_5": "Shoe size"}
    assert update.extra == {}
