"""GHL's camelCase contact (GET reply, search hit, webhook body) → the Contact the sync decides on."""

from __future__ import annotations

import pytest

from chalicelib.domain.contact import Contact, contact_from_ghl, parse_tags
from tests.support.helpers import CONTACT_ID, LOCATION_ID, fixture

AVERY = Contact(
    id=CONTACT_ID,
    location_id=LOCATION_ID,
    first_name="Avery",
    last_name="Lindqvist",
    email="avery.lindqvist@example.com",
    phone="+13125550147",
    company_name="Lindqvist Landscaping LLC",
    address="100 Example Ave",
    city="Springfield",
    state="IL",
    postal_code="62701",
    tags=("facebook lead", "cold lead"),
    dnd_calls=False,
    dnd_known=True,
)


def test_a_get_contact_reply_maps_every_field():
    assert contact_from_ghl(fixture("ghl/get-contact.json")["contact"]) == AVERY


def test_a_search_hit_maps_every_field_its_address_under_address():
    hit = fixture("ghl/search-contacts-page.json")["contacts"][0]
    assert "address1" not in hit and hit["dndSettings"] == {}
    assert contact_from_ghl(hit) == AVERY


def test_a_sparse_contact_has_empty_fields_not_placeholders():
    contact = contact_from_ghl({"id": "c1"})
    assert contact == Contact(id="c1", dnd_known=False)
    assert contact.location_id is None and contact.first_name == "" and contact.tags == ()


def test_blank_and_non_text_values_count_as_missing():
    contact = contact_from_ghl(
        {"id": " c1 ", "firstName": "   ", "lastName": 5, "city": None, "phone": " +13125550147 "}
    )
    assert contact.id == "c1" and contact.first_name == "" and contact.last_name == ""
    assert contact.city == "" and contact.phone == "+13125550147"


def test_contact_id_is_read_from_contactid_when_id_is_missing():
    assert contact_from_ghl({"contactId": "c9"}).id == "c9"
    assert contact_from_ghl({"id": "c1", "contactId": "c9"}).id == "c1"


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"firstNameLowerCase": "avery"}, "first_name", "avery"),
        ({"firstName": "Avery", "firstNameLowerCase": "avery"}, "first_name", "Avery"),
        ({"lastNameLowerCase": "lindqvist"}, "last_name", "lindqvist"),
        ({"lastName": "Lindqvist", "lastNameLowerCase": "x"}, "last_name", "Lindqvist"),
        ({"emailLowerCase": "a@example.com"}, "email", "a@example.com"),
        ({"email": "A@example.com", "emailLowerCase": "a@example.com"}, "email", "A@example.com"),
        ({"address": "1 Side St"}, "address", "1 Side St"),
        ({"address1": "100 Example Ave", "address": "1 Side St"}, "address", "100 Example Ave"),
    ],
)
def test_fallback_keys_are_read_only_when_the_main_key_is_missing(
    data: dict[str, str], field: str, expected: str
):
    assert getattr(contact_from_ghl({"id": "c1", **data}), field) == expected


def test_a_contact_without_an_id_is_refused():
    with pytest.raises(ValueError, match=r"^contact has no id$"):
        contact_from_ghl({"firstName": "Avery"})


@pytest.mark.parametrize("tags", ["cold lead", [1, 2], {"a": 1}, None])
def test_tags_that_are_not_a_list_of_strings_are_refused(tags: object):
    with pytest.raises(ValueError, match=r"^tags must be a list of strings$"):
        contact_from_ghl({"id": "c1", "tags": tags})


def test_tags_are_trimmed_and_blank_ones_dropped():
    assert contact_from_ghl({"id": "c1", "tags": [" a ", "", "  ", "b"]}).tags == ("a", "b")


def test_a_workflow_tag_string_is_split_on_commas():
    assert parse_tags("cold lead, hot lead,,  vip ") == ("cold lead", "hot lead", "vip")
    assert parse_tags("cold lead") == ("cold lead",)
    assert parse_tags(["cold lead", " x "]) == ("cold lead", "x")
    assert parse_tags(5) is None and parse_tags(["a", 1]) is None


def test_a_gone_contact_keeps_its_location():
    gone = Contact.gone("c1", LOCATION_ID)
    assert gone == Contact(id="c1", location_id=LOCATION_ID, deleted=True)
    assert Contact.gone("c1").location_id is None


def test_tag_keys_are_normalised():
    assert Contact(id="c1", tags=("  Cold   LEAD ", "vip")).tag_keys == {"cold lead", "vip"}


def test_a_tag_holding_a_lone_surrogate_is_kept_with_the_surrogate_replaced():
    """JSON may carry a lone surrogate that UTF-8 (SQS, DynamoDB) cannot: the tag is kept, that
    one character replaced, instead of failing the contact."""
    contact = contact_from_ghl({"id": "c1", "tags": [" vip\ud800 ", "cold lead"]})
    assert contact.tags == ("vip?", "cold lead")
    assert parse_tags("a\udfff,b") == ("a?", "b")
