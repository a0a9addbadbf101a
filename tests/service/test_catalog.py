"""The standard event catalogue and the JSON Schema helpers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from eventnotify.catalog import schemas
from eventnotify.catalog.sample import sample_data
from eventnotify.catalog.schemas import FieldViolation, check_schema, validate_data
from eventnotify.catalog.standard import (
    CATEGORIES,
    DIALECT,
    ENVELOPE_SCHEMA,
    STANDARD_EVENTS,
    standard_event,
)

# The "Standard events" section of original-system.md, copied verbatim.
ORIGINAL_STANDARD_EVENTS = """
Customer: customerAdded, customerUpdated, customerSubscription, groupCreated,
groupUpdated, groupMemberAdded, groupMemberRemoved, pointsContributionToGroup,
loyaltyCustomerMerge. Transaction: transactionAdded, transactionUpdated,
notInterestedBillAdded, retroBillAdded, transactionRejected,
rejectedTransactionRetrigger. Points: pointsIssued, pointsRedeemed,
promisedToCurrentPointsConversion, pointsExpired, pointsExpiryReminder,
pointsTransferredInitiated, pointsTransferredReceived, redeemedPointsReversed,
issuedPointsReversed, singlePointsExpiryUpdated, pointsExpiryChange,
manualPointsAdjustment. Alternate currencies: alternateCurrenciesIssued,
issuedAlternateCurrenciesReversed, promisedToCurrentAlternateCurrencyConversion.
Tier: tierUpgraded, tierRenewed, tierDowngraded, tierDowngradeReminder.
Partner programs: partnerProgramLinked, partnerProgramUpdated,
partnerProgramDelinked, supplementaryMembershipExpiryReminder. Targets and
streaks: targetAchievedValueUpdated, targetValueAchieved, targetValueUpdated,
targetPeriodStarted, targetPeriodCompleted, targetCustomerEnrolment,
unifiedTargetsAchieved, unifiedTargetsUnAchieved, streakLevelAchieved,
streakLevelUnAchieved, streakCustomerEnrolment, streakCustomerUnEnrolment,
streakStart, streakEnd. Promotions: promotionCreated, promotionUpdated,
promotionIssued, promotionEarned, revokeIssuedPromotion, revokeEarnedPromotion,
cartPromotionIssued, cartPromotionEarned, cartPromotionRedeemed,
cartPromotionRevoked. Incentives: rewardCreated, rewardIssued, rewardUpdated,
issueRewardFailure, rewardExpiryReminder, updateRewardTransaction, CouponIssue,
IssueBulkCoupon, CouponRedeem, badgeEarned. Other: cardUpdated, requestUpdated,
requestWorkflowEvent.
"""

DETAILED = (
    "customerAdded",
    "customerUpdated",
    "transactionAdded",
    "transactionUpdated",
    "pointsIssued",
    "pointsRedeemed",
    "pointsExpired",
    "tierUpgraded",
    "tierDowngraded",
    "tierRenewed",
)


def _original_names() -> list[str]:
    # Each category is "Heading: a, b, c." with a heading of one or two words.
    names: list[str] = []
    for section in ORIGINAL_STANDARD_EVENTS.replace("\n", " ").split("."):
        if ":" in section:
            names += [n.strip() for n in section.split(":", 1)[1].split(",") if n.strip()]
    return names


ORIGINAL_NAMES = _original_names()


def _schema(name: str) -> dict[str, Any]:
    schema = STANDARD_EVENTS[name].schema
    assert schema is not None
    return schema


# ----------------------------------------------------------------------- catalogue


def test_catalogue_is_exactly_the_original_standard_events() -> None:
    assert len(ORIGINAL_NAMES) == 75
    assert len(set(ORIGINAL_NAMES)) == len(ORIGINAL_NAMES)
    assert sorted(STANDARD_EVENTS) == sorted(ORIGINAL_NAMES)
    for name in ("CouponIssue", "IssueBulkCoupon", "CouponRedeem"):
        assert name in STANDARD_EVENTS


@pytest.mark.parametrize("name", ORIGINAL_NAMES)
def test_every_standard_event_is_complete_and_self_consistent(name: str) -> None:
    event = STANDARD_EVENTS[name]
    assert event.name == name
    assert event.standard and event.active
    assert event.category in CATEGORIES
    assert event.description and "\n" not in event.description
    schema = _schema(name)
    assert schema["$schema"] == DIALECT
    assert schema["type"] == "object"
    assert check_schema(schema) == []
    sample = sample_data(schema)
    assert validate_data(schema, sample) == []
    # Round-trips through JSON unchanged: the sample is what a test event sends.
    assert json.loads(json.dumps(sample)) == sample


def test_categories_follow_the_original_grouping() -> None:
    assert STANDARD_EVENTS["customerAdded"].category == "customer"
    assert STANDARD_EVENTS["rejectedTransactionRetrigger"].category == "transaction"
    assert STANDARD_EVENTS["manualPointsAdjustment"].category == "points"
    assert STANDARD_EVENTS["alternateCurrenciesIssued"].category == "alternateCurrencies"
    assert STANDARD_EVENTS["tierDowngradeReminder"].category == "tier"
    assert STANDARD_EVENTS["partnerProgramLinked"].category == "partnerProgram"
    assert STANDARD_EVENTS["streakEnd"].category == "targetsAndStreaks"
    assert STANDARD_EVENTS["cartPromotionRevoked"].category == "promotions"
    assert STANDARD_EVENTS["CouponRedeem"].category == "incentives"
    assert STANDARD_EVENTS["requestWorkflowEvent"].category == "other"


@pytest.mark.parametrize("name", DETAILED)
def test_detailed_events_share_customer_identifiers(name: str) -> None:
    schema = _schema(name)
    assert schema["properties"]["customerIdentifiers"] == {"$ref": "#/$defs/customerIdentifiers"}
    assert "customerIdentifiers" in schema["required"]
    identifiers = schema["$defs"]["customerIdentifiers"]
    assert identifiers["properties"]["loyaltyType"]["enum"] == ["LOYALTY", "NON_LOYALTY"]
    assert set(identifiers["properties"]["instore"]["properties"]) == {
        "mobile",
        "email",
        "externalId",
        "cardnumber",
    }
    assert len(schema["properties"]) > 5


def test_documented_attributes_are_typed() -> None:
    transaction = _schema("transactionAdded")["properties"]
    for attribute in (
        "amount",
        "billClientId",
        "billNumber",
        "billDate",
        "enteredAt",
        "transactionId",
        "deliveryStatus",
        "billType",
        "lineItemCount",
        "discount",
        "grossAmount",
        "currencyCode",
        "customFields",
        "extendedFields",
        "enteredBy",
    ):
        assert "type" in transaction[attribute], attribute
    assert transaction["transactionId"]["type"] == "integer"
    points = _schema("pointsIssued")["properties"]
    assert points["promotionalPointsIssued"]["type"] == "array"
    assert set(_schema("tierUpgraded")["properties"]) >= {
        "loyaltyProgramId",
        "previousTierNumber",
        "upgradedTierNumber",
        "tierExpiryDate",
        "upgradeType",
    }


def test_generic_events_accept_any_object_with_optional_identifiers() -> None:
    schema = _schema("badgeEarned")
    assert validate_data(schema, {}) == []
    assert validate_data(schema, {"badgeId": "b1", "anything": [1, 2]}) == []
    broken = validate_data(schema, {"customerIdentifiers": {"customerId": "x"}})
    assert broken == [
        FieldViolation("data.customerIdentifiers.customerId", "must be of type integer, got string")
    ]


def test_detailed_schemas_allow_extra_producer_fields() -> None:
    schema = _schema("transactionAdded")
    data = sample_data(schema)
    data["newFieldFromProducer"] = {"nested": True}
    data["customerIdentifiers"]["instore"]["loyaltyCardTier"] = "gold"
    assert validate_data(schema, data) == []


def test_standard_event_returns_a_copy_sharing_the_schema() -> None:
    event = standard_event("pointsIssued")
    assert event is not None
    event.active = False
    assert STANDARD_EVENTS["pointsIssued"].active is True
    assert event.schema is STANDARD_EVENTS["pointsIssued"].schema
    assert standard_event("pointsissued") is None
    assert standard_event("nope") is None


def test_envelope_schema_describes_a_delivered_body() -> None:
    assert check_schema(ENVELOPE_SCHEMA) == []
    body = {
        "eventName": "transactionAdded",
        "eventId": "ccc983c2-df7a-4ece-b5cc-e574cec66fc1",
        "orgId": 50074,
        "refId": "50074_38236069",
        "apiRequestId": "ebcce693-48ff-4a5f-b335-76abd1c9e33f",
        "createdAt": 1587620451351,
        "data": {"transactionId": 38236069},
        "loyaltyEventId": None,
    }
    assert validate_data(ENVELOPE_SCHEMA, body) == []
    body["orgId"] = "50074"
    assert [v.field for v in validate_data(ENVELOPE_SCHEMA, body)] == ["data.orgId"]


# --------------------------------------------------------------------- validation


def test_validate_data_reports_every_violation_sorted_by_path() -> None:
    schema = _schema("transactionAdded")
    data = sample_data(schema)
    del data["transactionId"]
    data["amount"] = "12.50"
    data["lineItemCount"] = -1
    data["customerIdentifiers"]["loyaltyType"] = "GOLD"
    data["customerIdentifiers"]["instore"]["email"] = 42
    del data["customerIdentifiers"]["customerId"]

    violations = validate_data(schema, data)

    assert violations == [
        FieldViolation("data.amount", "must be of type number, got string"),
        FieldViolation("data.customerIdentifiers.customerId", "is required"),
        FieldViolation(
            "data.customerIdentifiers.instore.email",
            "must be of type string or null, got integer",
        ),
        FieldViolation(
            "data.customerIdentifiers.loyaltyType", 'must be one of ["LOYALTY", "NON_LOYALTY"]'
        ),
        FieldViolation("data.lineItemCount", "-1 is less than the minimum of 0"),
        FieldViolation("data.transactionId", "is required"),
    ]


def test_validate_data_paths_through_arrays_and_odd_names() -> None:
    schema = _schema("pointsIssued")
    data = sample_data(schema)
    data["promotionalPointsIssued"].append({"promotionId": 7, "points": "many"})
    data["promotionalPointsIssued"].append({"promotionId": 8})
    path = "data.promotionalPointsIssued"
    assert validate_data(schema, data) == [
        FieldViolation(f"{path}[1].points", "must be of type number, got string"),
        FieldViolation(f"{path}[2].points", "is required"),
    ]
    odd = {"type": "object", "properties": {"a.b": {"type": "string"}}}
    assert validate_data(odd, {"a.b": 1}) == [
        FieldViolation('data["a.b"]', "must be of type string, got integer")
    ]


def test_validate_data_reports_several_missing_required_properties() -> None:
    violations = validate_data(_schema("tierUpgraded"), {})
    assert [v.field for v in violations] == [
        "data.customerIdentifiers",
        "data.loyaltyProgramId",
        "data.upgradedTierNumber",
    ]
    assert all(v.description == "is required" for v in violations)


def test_integral_floats_count_as_integers_in_every_dialect() -> None:
    # Data decoded from a protobuf Struct carries numbers as floats.
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
              "properties": {"n": {"type": "integer"}}}  # fmt: skip
    assert check_schema(draft4) == []
    assert validate_data(draft4, {"n": 5.0}) == []
    assert [v.field for v in validate_data(draft4, {"n": 5.5})] == ["data.n"]
    transaction = _schema("transactionAdded")
    data = {**sample_data(transaction), "transactionId": 38236069.0}
    assert validate_data(transaction, data) == []


def test_validate_data_does_not_raise_for_an_unchecked_broken_ref() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    violations = validate_data(schema, {"a": 1})
    assert len(violations) == 1
    assert violations[0].field == "data"
    assert "cannot be applied" in violations[0].description


# --------------------------------------------------------------------- check_schema


def test_check_schema_rejects_an_invalid_type() -> None:
    problems = check_schema({"type": "nonsense"})
    assert len(problems) == 1
    assert problems[0].startswith("$.type: ")
    assert "nonsense" in problems[0]


def test_check_schema_reports_every_metaschema_error() -> None:
    problems = check_schema(
        {"type": "object", "properties": {"a": {"type": 3}, "b": {"minLength": -1}}}
    )
    assert [p.split(":")[0] for p in problems] == [
        "$.properties.a.type",
        "$.properties.b.minLength",
    ]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ([], "schema must be a JSON object"),
        ({"type": "array"}, "root of an event schema must be of type"),
        ({"$schema": "https://example.com/my-dialect"}, "unsupported dialect"),
        ({"pattern": "("}, "regex"),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "cannot resolve '#/$defs/missing'"),
        ({"properties": {"a": {"$ref": "https://example.com/s.json"}}}, "cannot resolve"),
    ],
)
def test_check_schema_rejects(schema: Any, expected: str) -> None:
    problems = check_schema(schema)
    assert problems
    assert expected in " ".join(problems)


@pytest.mark.parametrize(
    "schema",
    [
        {},
        {"type": "object"},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"},
        {"$schema": "http://json-schema.org/draft-07/schema", "type": ["object"]},
        {
            "$defs": {"a~b": {"$anchor": "thing", "type": "string"}},
            "properties": {
                "p": {"$ref": "#/$defs/a~0b"},
                "q": {"$ref": "#thing"},
                "r": {"$ref": "#"},
                "s": {"examples": [{"$ref": "not-a-reference"}]},
            },
        },
    ],
)
def test_check_schema_accepts(schema: dict[str, Any]) -> None:
    assert check_schema(schema) == []


# -------------------------------------------------------------------------- sample


def test_sample_data_is_deterministic() -> None:
    schema = _schema("customerAdded")
    assert sample_data(schema) == sample_data(copy.deepcopy(schema))
    assert sample_data(schema)["customerIdentifiers"]["loyaltyType"] == "LOYALTY"
    assert sample_data(schema)["enteredAt"] > 1_600_000_000_000


def test_sample_data_handles_the_keywords_custom_schemas_use() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "required": ["id", "undeclared"],
        "definitions": {"money": {"type": "object", "required": ["value"],
                                  "properties": {"value": {"type": "number", "minimum": 100}}}},
        "properties": {
            "id": {"type": "integer", "minimum": 5, "exclusiveMinimum": True},
            "score": {"type": "number", "maximum": 1, "exclusiveMaximum": True, "minimum": 0},
            "ratio": {"type": "integer", "multipleOf": 7},
            "kind": {"enum": ["A", "B"]},
            "fixed": {"const": 3},
            "code": {"type": "string", "minLength": 20, "maxLength": 22},
            "when": {"type": ["null", "string"], "format": "date-time"},
            "contact": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "none": {"type": "array", "maxItems": 0},
            "flag": {"type": "boolean"},
            "price": {"$ref": "#/definitions/money"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "both": {"allOf": [{"properties": {"x": {"type": "integer"}}, "required": ["x"]},
                               {"properties": {"y": {"type": "string"}}, "required": ["y"]}]},
            "pair": {"type": "array", "items": [{"type": "integer"}, {"type": "boolean"}]},
            "nothing": {"type": "null"},
        },
    }  # fmt: skip
    assert check_schema(schema) == []
    sample = sample_data(schema)
    assert validate_data(schema, sample) == []
    assert sample["id"] == 6
    assert sample["kind"] == "A"
    assert sample["fixed"] == 3
    assert sample["when"] == "2024-01-01T00:00:00Z"
    assert sample["contact"] == "customer@example.com"
    assert len(sample["tags"]) == 2
    assert sample["none"] == []
    assert sample["price"] == {"value": 100}
    assert set(sample["both"]) == {"x", "y"}
    assert sample["nothing"] is None
    assert "undeclared" in sample
    modern = {"properties": {"n": {"type": "integer", "exclusiveMinimum": 0, "maximum": 1},
                             "x": {"type": "number", "exclusiveMaximum": -3}}}  # fmt: skip
    assert sample_data(modern)["n"] == 1
    assert validate_data(modern, sample_data(modern)) == []


def test_sample_data_stops_at_recursive_refs() -> None:
    schema = {
        "type": "object",
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
        "properties": {"root": {"$ref": "#/$defs/node"}},
    }
    assert validate_data(schema, sample_data(schema)) == []


# -------------------------------------------------------------------------- cache


def test_validators_are_cached_by_identity_and_by_content() -> None:
    schema = _schema("pointsRedeemed")
    first = schemas._cached_validator(schema)
    assert schemas._cached_validator(schema) is first
    # An equal schema decoded afresh (e.g. from the database) shares the validator.
    assert schemas._cached_validator(copy.deepcopy(schema)) is first
    assert schemas._cached_validator(_schema("pointsIssued")) is not first


def test_sample_data_never_shares_values_with_the_schema() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"meta": {"type": "object", "default": {}}},
    }
    sample_data(schema)["meta"]["x"] = 1
    assert schema["properties"]["meta"]["default"] == {}
