"""The mapping file turns posted forms into clean HubSpot properties."""

from __future__ import annotations

import pytest

from crm.mapping import PropertyMap


@pytest.fixture(scope="module")
def mapping() -> PropertyMap:
    return PropertyMap.load()


VALID = {
    "email": "  Jane.Smith@Example.COM ",
    "firstName": "jane",
    "lastName": "o'neil-smith",
    "company": "Tech Solutions Inc",
    "jobTitle": "Product Manager",
    "phone": "+44 20 7946 0958",
    "country": "United Kingdom",
    "serviceInterests": ["Data Preparation", "ai_model_development"],
    "projectDetails": "Looking for AI solutions",
}


def test_contact_properties_are_transformed_as_the_spec_says(mapping: PropertyMap) -> None:
    result = mapping.clean("contact", VALID)

    assert result.ok, result.errors
    properties = mapping.contact_properties("contact", result.values)
    assert properties["email"] == "jane.smith@example.com"
    assert properties["firstname"] == "Jane"
    assert properties["lastname"] == "O'Neil-Smith"
    assert properties["phone"] == "+442079460958"
    assert properties["country"] == "GB"
    assert properties["service_interest"] == "data_preparation;ai_model_development"
    assert properties["project_description"] == "Looking for AI solutions"
    assert properties["lead_source"] == "Website"
    assert properties["form_type"] == "contact"


def test_lifecycle_stage_uses_hubspots_property_name_per_form(mapping: PropertyMap) -> None:
    stages = {
        form: mapping.contact_properties(form, mapping.clean(form, VALID).values)
        for form in ("contact", "demo_request", "quote_request")
    }
    assert "lifecycle_stage" not in stages["demo_request"]
    assert stages["demo_request"]["lifecyclestage"] == "salesqualifiedlead"
    assert stages["quote_request"]["lifecyclestage"] == "opportunity"


def test_spec_spellings_of_interest_and_details_are_both_accepted(mapping: PropertyMap) -> None:
    raw = dict(
        VALID, projectDescription="From the other spelling", serviceInterest="Data Collection"
    )
    del raw["serviceInterests"], raw["projectDetails"]

    values = mapping.clean("contact", raw).values

    assert values["serviceInterests"] == ["data_collection"]
    assert values["projectDetails"] == "From the other spelling"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "valid e-mail"),
        ("phone", "+1 (555) 123-4567", "valid phone"),
        ("country", "Narnia", "country"),
        ("serviceInterests", ["Astrology"], "options"),
        ("firstName", "x" * 101, "at most 100"),
        ("firstName", {"nested": "object"}, "must be text"),
        ("company", "<b></b>", "must contain text"),
    ],
)
def test_bad_values_get_a_message_for_their_field(
    mapping: PropertyMap, field: str, value: object, message: str
) -> None:
    result = mapping.clean("contact", dict(VALID, **{field: value}))

    assert list(result.errors) == [field]
    assert message in result.errors[field]


def test_missing_required_fields_are_each_reported(mapping: PropertyMap) -> None:
    result = mapping.clean("contact", {"email": "a@b.co"})

    assert set(result.errors) == {"firstName", "lastName", "company", "country", "serviceInterests"}


def test_markup_and_formula_prefixes_never_reach_hubspot(mapping: PropertyMap) -> None:
    raw = dict(VALID, company="<script>x</script>Acme", projectDetails="=HYPERLINK(1)")

    values = mapping.clean("contact", raw).values

    assert values["company"] == "Acme"
    assert values["projectDetails"] == "HYPERLINK(1)"


def test_deal_carries_the_submission_id_pipeline_and_stage(mapping: PropertyMap) -> None:
    values = mapping.clean("quote_request", VALID).values

    deal = mapping.deal_properties("quote_request", values, "sub-1", owner_id="77")

    assert deal == {
        "dealname": "Tech Solutions Inc - quote request",
        "pipeline": "default",
        "dealstage": "qualifiedtobuy",
        "form_type": "quote_request",
        "submission_id": "sub-1",
        "hubspot_owner_id": "77",
    }


def test_every_mapped_property_is_standard_or_created_by_setup(mapping: PropertyMap) -> None:
    standard = {
        "email",
        "firstname",
        "lastname",
        "company",
        "jobtitle",
        "phone",
        "country",
        "lifecyclestage",
    }
    custom = {p["name"] for p in mapping.custom_properties["contacts"]}
    for form in mapping.forms.values():
        for name in form.fields:
            assert mapping.fields[name].property in standard | custom
        assert set(form.static_values) <= standard | custom


def test_values_are_displayed_with_their_picklist_labels(mapping: PropertyMap) -> None:
    values = mapping.clean("quote_request", dict(VALID, budget="10k_50k")).values

    assert mapping.display_value("serviceInterests", values["serviceInterests"]) == (
        "Data Preparation, AI Model Development"
    )
    assert mapping.display_value("budget", values["budget"]) == "$10,000 - $50,000"
    assert mapping.display_value("company", values["company"]) == "Tech Solutions Inc"
