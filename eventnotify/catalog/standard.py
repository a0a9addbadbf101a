"""The standard event catalogue shipped with eventnotify.

Every standard event of the original service, with its category, a one-line
description and a JSON Schema (draft 2020-12) of its ``data`` object. The most
used events have detailed schemas; the rest accept any object whose optional
``customerIdentifiers`` has the shared shape. Schemas never forbid additional
properties: producers add fields over time and a new field must not turn a
valid event into a schema violation.

The catalogue is built once at import from the compact tables below.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Final

from eventnotify.domain import EventType

Schema = dict[str, Any]

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# ----------------------------------------------------------------- building blocks


def _t(*types: str, **keywords: Any) -> Schema:
    """A schema of one JSON type, or of any of several, plus keywords."""
    return {"type": types[0] if len(types) == 1 else list(types), **keywords}


def _object(properties: Schema, *required: str, **keywords: Any) -> Schema:
    """An object schema; additional properties stay allowed (the default)."""
    schema: Schema = {"type": "object", "properties": properties, **keywords}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


_STR = _t("string")
_OPT_STR = _t("string", "null")
_INT = _t("integer")
_COUNT = _t("integer", minimum=0)
_NUM = _t("number")
_POINTS = _t("number", description="Points; fractional points are allowed.")
_EPOCH_MS = _t("integer", minimum=0, description="Epoch milliseconds.")
_DATE_TIME = _t("string", "null", format="date-time")
_FREE_FORM = _t("object", description="Org-defined fields, name to value.")
_CUSTOMER = _ref("customerIdentifiers")

_LOYALTY_TYPE = _t("string", enum=["LOYALTY", "NON_LOYALTY"])


def _customer_identifiers() -> Schema:
    """The shared ``customerIdentifiers`` definition."""
    return _object(
        {
            "customerId": _t("integer", description="The customer's id in the loyalty platform."),
            "firstName": _OPT_STR,
            "lastName": _OPT_STR,
            "loyaltyType": _LOYALTY_TYPE,
            "instore": _object(
                {
                    "mobile": _OPT_STR,
                    "email": _t("string", "null", format="email"),
                    "externalId": _OPT_STR,
                    "cardnumber": _OPT_STR,
                },
                description="The customer's identifiers in the in-store source.",
            ),
        },
        "customerId",
        description="Who the event is about.",
    )


# Attribute groups shared by several detailed events.
_ENTRY: Final[Schema] = {
    "source": _t("string", description="Channel that caused the event, e.g. INSTORE."),
    "enteredAt": _EPOCH_MS,
    "enteredBy": _t("integer", "string", "null", description="Till or user that entered it."),
}
_CUSTOMER_PROFILE: Final[Schema] = {
    "customerIdentifiers": _CUSTOMER,
    "loyaltyType": _LOYALTY_TYPE,
    "firstName": _OPT_STR,
    "lastName": _OPT_STR,
    **_ENTRY,
}
_TRANSACTION: Final[Schema] = {
    "customerIdentifiers": _CUSTOMER,
    "transactionId": _INT,
    "billNumber": _STR,
    "billClientId": _OPT_STR,
    "billDate": _DATE_TIME,
    "billType": _t("string", examples=["REGULAR"]),
    "deliveryStatus": _OPT_STR,
    "amount": _NUM,
    "grossAmount": _NUM,
    "discount": _NUM,
    "lineItemCount": _COUNT,
    "currencyCode": _t("string", minLength=3, maxLength=3, examples=["INR"]),
    "customFields": _FREE_FORM,
    "extendedFields": _FREE_FORM,
    **_ENTRY,
}
_PROGRAM: Final[Schema] = {
    "customerIdentifiers": _CUSTOMER,
    "loyaltyProgramId": _INT,
    "programCurrentPoints": _POINTS,
    "programLifetimePoints": _POINTS,
    "loyaltyEventId": _OPT_STR,
}
_PROMOTIONAL_POINTS: Final = _t(
    "array",
    items=_object(
        {"promotionId": _INT, "promotionName": _OPT_STR, "points": _POINTS},
        "points",
    ),
)
_TIER: Final[Schema] = {
    "customerIdentifiers": _CUSTOMER,
    "loyaltyProgramId": _INT,
    "previousTierNumber": _t("integer", minimum=0),
    "previousTierName": _OPT_STR,
    "tierExpiryDate": _DATE_TIME,
    "loyaltyEventId": _OPT_STR,
}

# name -> (data properties, required properties) for events with detailed schemas.
_DETAILED: Final[dict[str, tuple[Schema, tuple[str, ...]]]] = {
    "customerAdded": (_CUSTOMER_PROFILE, ("customerIdentifiers",)),
    "customerUpdated": (
        {**_CUSTOMER_PROFILE, "updatedFields": _t("array", items=_STR)},
        ("customerIdentifiers",),
    ),
    "transactionAdded": (_TRANSACTION, ("transactionId", "customerIdentifiers")),
    "transactionUpdated": (
        {**_TRANSACTION, "updatedFields": _t("array", items=_STR)},
        ("transactionId", "customerIdentifiers"),
    ),
    "pointsIssued": (
        {
            **_PROGRAM,
            "totalPointsIssued": _POINTS,
            "regularPointsIssued": _POINTS,
            "promotionalPointsIssued": _PROMOTIONAL_POINTS,
        },
        ("customerIdentifiers", "loyaltyProgramId", "totalPointsIssued"),
    ),
    "pointsRedeemed": (
        {
            **_PROGRAM,
            "totalPointsRedeemed": _POINTS,
            "redemptionSummaryId": _t("integer", "string"),
            "redeemedPointsCurrencyValue": _NUM,
            "redemptionBillNumber": _OPT_STR,
        },
        ("customerIdentifiers", "loyaltyProgramId", "totalPointsRedeemed"),
    ),
    "pointsExpired": (
        {**_PROGRAM, "totalPointsExpired": _POINTS, "expiredOn": _DATE_TIME},
        ("customerIdentifiers", "loyaltyProgramId", "totalPointsExpired"),
    ),
    "tierUpgraded": (
        {
            **_TIER,
            "upgradedTierNumber": _t("integer", minimum=0),
            "upgradedTierName": _OPT_STR,
            "upgradeType": _t("string", examples=["POINTS"]),
        },
        ("customerIdentifiers", "loyaltyProgramId", "upgradedTierNumber"),
    ),
    "tierDowngraded": (
        {
            **_TIER,
            "downgradedTierNumber": _t("integer", minimum=0),
            "downgradedTierName": _OPT_STR,
            "downgradeType": _t("string", examples=["EXPIRY"]),
        },
        ("customerIdentifiers", "loyaltyProgramId", "downgradedTierNumber"),
    ),
    "tierRenewed": (
        {
            **_TIER,
            "tierNumber": _t("integer", minimum=0),
            "tierName": _OPT_STR,
            "previousTierExpiryDate": _DATE_TIME,
            "renewalType": _t("string", examples=["POINTS"]),
        },
        ("customerIdentifiers", "loyaltyProgramId", "tierNumber"),
    ),
}

# ------------------------------------------------------------------------ catalogue

CATEGORIES: Final = (
    "customer",
    "transaction",
    "points",
    "alternateCurrencies",
    "tier",
    "partnerProgram",
    "targetsAndStreaks",
    "promotions",
    "incentives",
    "other",
)

# (category, ((name, description), ...)) in the order of the original docs.
_CATALOGUE: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    ("customer", (
        ("customerAdded", "A customer registered."),
        ("customerUpdated", "A customer's profile or identifiers changed."),
        ("customerSubscription", "A customer's communication subscription changed."),
        ("groupCreated", "A customer group (e.g. a household) was created."),
        ("groupUpdated", "A customer group's details changed."),
        ("groupMemberAdded", "A customer joined a group."),
        ("groupMemberRemoved", "A customer left or was removed from a group."),
        ("pointsContributionToGroup", "A member's points were contributed to their group."),
        ("loyaltyCustomerMerge", "Two loyalty customers were merged into one."),
    )),
    ("transaction", (
        ("transactionAdded", "A transaction (bill) was added for a customer."),
        ("transactionUpdated", "An existing transaction was changed."),
        ("notInterestedBillAdded", "A bill was added for a customer who declined loyalty."),
        ("retroBillAdded", "A past bill was added retroactively to a customer."),
        ("transactionRejected", "A transaction was rejected by validation rules."),
        ("rejectedTransactionRetrigger", "A rejected transaction was submitted again."),
    )),
    ("points", (
        ("pointsIssued", "Points were issued to a customer."),
        ("pointsRedeemed", "A customer redeemed points."),
        ("promisedToCurrentPointsConversion", "Promised points became redeemable points."),
        ("pointsExpired", "A customer's points expired."),
        ("pointsExpiryReminder", "A customer's points will expire soon."),
        ("pointsTransferredInitiated", "A customer started a points transfer to another."),
        ("pointsTransferredReceived", "A customer received transferred points."),
        ("redeemedPointsReversed", "A points redemption was reversed."),
        ("issuedPointsReversed", "Issued points were taken back (e.g. a returned bill)."),
        ("singlePointsExpiryUpdated", "The expiry date of one points award changed."),
        ("pointsExpiryChange", "Expiry dates of a customer's points changed."),
        ("manualPointsAdjustment", "Points were adjusted manually by a user."),
    )),
    ("alternateCurrencies", (
        ("alternateCurrenciesIssued", "An alternate currency was issued to a customer."),
        ("issuedAlternateCurrenciesReversed", "An issued alternate currency was taken back."),
        (
            "promisedToCurrentAlternateCurrencyConversion",
            "A promised alternate currency became redeemable.",
        ),
    )),
    ("tier", (
        ("tierUpgraded", "A customer moved up to a higher tier."),
        ("tierRenewed", "A customer's tier was renewed for another period."),
        ("tierDowngraded", "A customer moved down to a lower tier."),
        ("tierDowngradeReminder", "A customer will be downgraded soon unless they qualify."),
    )),
    ("partnerProgram", (
        ("partnerProgramLinked", "A customer was linked to a partner program."),
        ("partnerProgramUpdated", "A customer's partner program membership changed."),
        ("partnerProgramDelinked", "A customer was unlinked from a partner program."),
        (
            "supplementaryMembershipExpiryReminder",
            "A supplementary membership will expire soon.",
        ),
    )),
    ("targetsAndStreaks", (
        ("targetAchievedValueUpdated", "Progress towards a customer's target changed."),
        ("targetValueAchieved", "A customer reached a target."),
        ("targetValueUpdated", "A target's goal value changed."),
        ("targetPeriodStarted", "A target period began."),
        ("targetPeriodCompleted", "A target period ended."),
        ("targetCustomerEnrolment", "A customer was enrolled in a target."),
        ("unifiedTargetsAchieved", "A customer achieved a unified target."),
        ("unifiedTargetsUnAchieved", "A customer's unified target achievement was revoked."),
        ("streakLevelAchieved", "A customer reached a streak level."),
        ("streakLevelUnAchieved", "A customer's streak level achievement was revoked."),
        ("streakCustomerEnrolment", "A customer was enrolled in a streak."),
        ("streakCustomerUnEnrolment", "A customer was removed from a streak."),
        ("streakStart", "A streak began."),
        ("streakEnd", "A streak ended."),
    )),
    ("promotions", (
        ("promotionCreated", "A loyalty promotion was created."),
        ("promotionUpdated", "A loyalty promotion was changed."),
        ("promotionIssued", "A promotion was issued to a customer."),
        ("promotionEarned", "A customer earned a promotion."),
        ("revokeIssuedPromotion", "A promotion issued to a customer was revoked."),
        ("revokeEarnedPromotion", "A promotion a customer earned was revoked."),
        ("cartPromotionIssued", "A cart promotion was issued to a customer."),
        ("cartPromotionEarned", "A customer earned a cart promotion."),
        ("cartPromotionRedeemed", "A customer redeemed a cart promotion."),
        ("cartPromotionRevoked", "A customer's cart promotion was revoked."),
    )),
    ("incentives", (
        ("rewardCreated", "A reward was added to the rewards catalogue."),
        ("rewardIssued", "A reward was issued to a customer."),
        ("rewardUpdated", "A reward in the catalogue was changed."),
        ("issueRewardFailure", "Issuing a reward to a customer failed."),
        ("rewardExpiryReminder", "A customer's reward will expire soon."),
        ("updateRewardTransaction", "A reward transaction's status changed."),
        ("CouponIssue", "A coupon was issued to a customer."),
        ("IssueBulkCoupon", "Coupons were issued to many customers in bulk."),
        ("CouponRedeem", "A customer redeemed a coupon."),
        ("badgeEarned", "A customer earned a badge."),
    )),
    ("other", (
        ("cardUpdated", "A loyalty card's status or details changed."),
        ("requestUpdated", "A customer request (e.g. a change request) changed status."),
        ("requestWorkflowEvent", "A step of a customer request's approval workflow ran."),
    )),
)  # fmt: skip


def _event_schema(
    name: str, description: str, properties: Schema, required: tuple[str, ...]
) -> Schema:
    """The standalone schema of one event's ``data`` (each carries its own $defs)."""
    schema: Schema = {
        "$schema": DIALECT,
        "title": name,
        "description": description,
        **_object({"customerIdentifiers": _CUSTOMER, **properties}, *required),
        "$defs": {"customerIdentifiers": _customer_identifiers()},
    }
    # The building blocks are shared between events; copy so no two schemas
    # share a mutable node.
    return copy.deepcopy(schema)


def _build() -> dict[str, EventType]:
    events: dict[str, EventType] = {}
    for category, entries in _CATALOGUE:
        for name, description in entries:
            properties, required = _DETAILED.get(name, ({}, ()))
            events[name] = EventType(
                name=name,
                active=True,
                standard=True,
                description=description,
                category=category,
                schema=_event_schema(name, description, properties, required),
            )
    return events


STANDARD_EVENTS: Final[dict[str, EventType]] = _build()
"""Every standard event by name. Shared: do not mutate; ``standard_event`` copies."""


def standard_event(name: str) -> EventType | None:
    """The standard event ``name`` (case-sensitive), or None if it is not standard.

    Returns a copy the caller may change (e.g. set ``active`` for one org). The
    schema is shared, not copied, so validators cached by schema identity stay
    hot; treat it as read-only.
    """
    event = STANDARD_EVENTS.get(name)
    return None if event is None else dataclasses.replace(event)


ENVELOPE_SCHEMA: Final[Schema] = {
    "$schema": DIALECT,
    "title": "Delivered event",
    "description": "The JSON body a webhook receives for one event.",
    "type": "object",
    "properties": {
        "eventName": _t("string", description="Subscription name, e.g. transactionAdded."),
        "eventId": _t(
            "string", format="uuid", description="Unique per delivery; drop duplicates by it."
        ),
        "orgId": _t("integer", description="The organisation the event belongs to."),
        "refId": _t("string", description="{orgId}_{entityId} of the entity concerned."),
        "apiRequestId": _t("string", description="Request id of the call that caused it."),
        "createdAt": _t("integer", description="When the event was stored, epoch ms."),
        "data": _t("object", description="The event's attributes; see its event schema."),
        "loyaltyEventId": _t("string", "null", description="Loyalty engine event id."),
    },
    "required": ["eventName", "eventId", "orgId", "refId", "apiRequestId", "createdAt", "data"],
}
