"""Keyword model: comma-separated forwards and the member(s)_message spellings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smsapi_async.models import Keyword
from smsapi_async.models.keywords import comma_list

items = st.lists(
    st.text(alphabet=st.characters(blacklist_characters=",", blacklist_categories=("Cs",))), max_size=6
)


@given(items)
def test_comma_list_round_trips_what_the_api_joins(values: list[str]) -> None:
    expected = tuple(value.strip() for value in values if value.strip())
    assert comma_list(",".join(values)) == expected
    assert comma_list(values) == expected


def test_comma_list_of_nothing() -> None:
    assert comma_list(None) == comma_list("") == comma_list([]) == ()


def test_comma_list_of_a_lone_number() -> None:
    assert comma_list(61491570157) == ("61491570157",)


def test_members_message_under_either_spelling() -> None:
    assert Keyword.from_api({"member_message": "a"}).members_message == "a"
    assert Keyword.from_api({"members_message": "b"}).members_message == "b"
    both = Keyword.from_api({"member_message": "a", "members_message": "b"})
    assert both.members_message == "a"
    assert "members_message" not in both.extra
