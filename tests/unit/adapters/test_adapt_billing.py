"""Usage adapters: Partner Center line items and utilization, Azure cost details, FOCUS.
Daily rows stay daily, credits become credit payments, ids follow the usage's identity."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from streamwatch.adapters import azure_cost, focus, partner_usage, partner_utilization
from streamwatch.adapters.base import Context, Rate, Refused
from streamwatch.adapters.rates import parse_fx
from streamwatch.adapters.run import Run
from streamwatch.core.codec import event_from_dict

SUB = "12345678-9d62-4a85-8fd0-91a87c261bc4"
VM = f"/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1"


def line_item(**over: Any) -> dict[str, Any]:
    """A DailyRatedUsageLineItem as GET /invoices/unbilled/lineitems returns it."""
    doc: dict[str, Any] = {
        "partnerId": "p-1",
        "customerId": "Tenant-A",
        "invoiceNumber": "",
        "subscriptionId": SUB.upper(),
        "usageDate": "2026-10-02T00:00:00Z",
        "meterCategory": "Virtual Machines",
        "meterSubCategory": "NCads A100 v4 Series",
        "meterName": "NC24ads A100 v4",
        "meterId": "METER-1",
        "unitOfMeasure": "1 Hour",
        "resourceLocation": "EASTUS",
        "resourceUri": VM,
        "additionalInfo": '{  "ServiceType": "Standard_NC24ads_A100_v4",  "VMName": null}',
        "chargeType": "new",
        "unitPrice": 3.67,
        "quantity": 24.0,
        "billingPreTaxTotal": 88.08,
        "billingCurrency": "EUR",
        "entitlementId": "ent-1",
        "creditType": "Credit Not Applied",
        "attributes": {"objectType": "DailyRatedUsageLineItem"},
    }
    doc.update(over)
    return doc


def test_line_item_is_daily_usage_with_its_own_values() -> None:
    (event,) = partner_usage.map_record(line_item(), Context())
    assert event["type"] == "usage"
    assert event["customer_id"] == "tenant-a"
    assert event["subscription_id"] == SUB
    assert event["ts"] == "2026-10-02T00:00:00Z"
    assert event["interval_s"] == 86400
    assert (event["quantity"], event["unit"]) == (24.0, "1 Hour")
    assert (event["cost"], event["currency"]) == (88.08, "EUR")
    assert event["sku"] == "Standard_NC24ads_A100_v4"
    assert (event["meter"], event["vcpus"], event["gpus"]) == ("gpu", 24, 1)
    assert event["region"] == "eastus"
    assert event["resource_id"] == VM.lower()
    event_from_dict(event)


def test_billed_and_unbilled_copies_of_a_line_are_one_event() -> None:
    unbilled = partner_usage.map_record(line_item(), Context())[0]
    billed = partner_usage.map_record(line_item(invoiceNumber="G000123"), Context())[0]
    other_day = partner_usage.map_record(line_item(usageDate="2026-10-03T00:00:00Z"), Context())[0]
    assert unbilled["event_id"] == billed["event_id"]
    assert unbilled["event_id"] != other_day["event_id"]


def test_negative_line_becomes_credit_payment_not_negative_usage() -> None:
    (event,) = partner_usage.map_record(
        line_item(billingPreTaxTotal=-12.5, quantity=-3, invoiceNumber="G1"), Context()
    )
    assert event["type"] == "payment"
    assert (event["kind"], event["amount"], event["currency"]) == ("credit", 12.5, "EUR")
    assert event["invoice_id"] == "G1"
    event_from_dict(event)


def test_string_total_is_read_and_garbage_total_refused() -> None:
    (event,) = partner_usage.map_record(line_item(billingPreTaxTotal="1.5"), Context())
    assert event["cost"] == 1.5
    with pytest.raises(Refused) as caught:
        partner_usage.map_record(line_item(billingPreTaxTotal="lots"), Context())
    assert caught.value.code == "wrong_type"


def utilization(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "usageStartTime": "2026-10-01T17:00:00-07:00",
        "usageEndTime": "2026-10-02T17:00:00-07:00",
        "resource": {
            "id": "8767AEB3-6909-4db2-9927-3f51e9a9085e",
            "name": "Standard IO - Block Blob (GB)",
            "category": "Storage",
        },
        "quantity": 10.0,
        "unit": "1 GB/Hr",
        "infoFields": {},
        "instanceData": {
            "resourceUri": f"/subscriptions/{SUB}/resourcegroups/rg/providers/"
            "Microsoft.Storage/storageaccounts/acct",
            "location": "West Europe",
        },
        "attributes": {"objectType": "AzureUtilizationRecord"},
    }
    doc.update(over)
    return doc


def test_utilization_priced_from_rate_table_in_utc_with_its_interval() -> None:
    ctx = Context(rates={"8767aeb3-6909-4db2-9927-3f51e9a9085e": Rate(0.05, "USD")})
    (event,) = partner_utilization.map_record(utilization(), ctx)
    assert event["ts"] == "2026-10-02T00:00:00Z"
    assert event["interval_s"] == 86400
    assert (event["cost"], event["currency"]) == (pytest.approx(0.5), "USD")
    assert (event["meter"], event["region"]) == ("storage", "westeurope")


def test_utilization_without_a_price_carries_quantity_only() -> None:
    (event,) = partner_utilization.map_record(utilization(), Context())
    assert (event["quantity"], event["cost"], event["currency"]) == (10.0, 0.0, "XXX")


def test_utilization_priced_in_the_customer_currency_through_dated_rates() -> None:
    fx = parse_fx("date,currency,rate\n2026-09-01,USD,0.9\n2026-10-02,USD,0.8\n", "EUR")
    ctx = Context(
        rates={"8767aeb3-6909-4db2-9927-3f51e9a9085e": Rate(0.05, "USD")},
        currency="EUR",
        convert=fx.convert,
    )
    (event,) = partner_utilization.map_record(utilization(), ctx)
    assert event["currency"] == "EUR"
    assert event["cost"] == pytest.approx(0.5 * 0.8)


def test_utilization_without_any_subscription_is_refused() -> None:
    record = utilization(instanceData=None)
    with pytest.raises(Refused) as caught:
        partner_utilization.map_record(record, Context())
    assert caught.value.code == "no_subscription"
    (event,) = partner_utilization.map_record(record, Context(subscription_id=SUB))
    assert event["subscription_id"] == SUB


COST_HEADER = (
    "SubscriptionId,Date,MeterCategory,MeterSubCategory,MeterName,Quantity,UnitOfMeasure,"
    "Cost,BillingCurrency,ResourceId,ResourceLocation,AdditionalInfo,ChargeType,PricingModel"
)


def cost_row(**over: str) -> dict[str, str]:
    """One row of an EA cost-details export (the CSV reader gives every cell as text)."""
    row = dict(
        zip(
            COST_HEADER.split(","),
            [
                SUB,
                "10/02/2026",
                "Virtual Machines",
                "Dv3/DSv3 Series",
                "D2 v3/D2s v3",
                "24",
                "1 Hour",
                "2.64",
                "USD",
                VM.upper(),
                "SouthCentralUS",
                '{"ServiceType":"Standard_D2s_v3","UsageType":"ComputeHR"}',
                "Usage",
                "OnDemand",
            ],
            strict=True,
        )
    )
    row.update(over)
    return row


def test_cost_row_is_daily_usage_from_us_date() -> None:
    (event,) = azure_cost.map_record(cost_row(), Context())
    assert event["ts"] == "2026-10-02T00:00:00Z"
    assert event["interval_s"] == 86400
    assert (event["cost"], event["quantity"], event["currency"]) == (2.64, 24.0, "USD")
    assert (event["sku"], event["vcpus"], event["meter"]) == ("Standard_D2s_v3", 2, "compute")
    assert event["region"] == "southcentralus"


def test_cost_row_dates_without_offset_follow_the_given_zone() -> None:
    (event,) = azure_cost.map_record(cost_row(), Context(tz=ZoneInfo("Europe/Paris")))
    assert event["ts"] == "2026-10-01T22:00:00Z"


def test_refund_row_and_tax_row() -> None:
    (credit,) = azure_cost.map_record(cost_row(ChargeType="Refund", Cost="3.25"), Context())
    assert (credit["kind"], credit["amount"]) == ("credit", 3.25)
    with pytest.raises(Refused) as caught:
        azure_cost.map_record(cost_row(ChargeType="Tax"), Context())
    assert caught.value.code == "tax"


def test_cost_row_id_ignores_measures_but_not_identity() -> None:
    first = azure_cost.map_record(cost_row(), Context())[0]["event_id"]
    restated = azure_cost.map_record(cost_row(Cost="2.70", Quantity="24.5"), Context())[0]
    other = azure_cost.map_record(cost_row(Date="10/03/2026"), Context())[0]
    assert restated["event_id"] == first
    assert other["event_id"] != first


def focus_row(**over: str) -> dict[str, str]:
    row = {
        "BilledCost": "0.19200000000",
        "EffectiveCost": "0.15000000000",
        "BillingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargeClass": "NULL",
        "ChargeDescription": "Virtual Machines Dv2/DSv2 Series - D11 v2 - US East 2",
        "ChargePeriodStart": "2026-09-12 09:00:00",
        "ChargePeriodEnd": "2026-09-12 10:00:00",
        "ConsumedQuantity": "1.000000000000000",
        "ConsumedUnit": "Hours",
        "RegionId": "eastus2",
        "ResourceId": f"/subscriptions/{SUB}/resourcegroups/rg/providers/x/y",
        "ServiceCategory": "Compute",
        "SkuId": "DZH318Z0BQPS",
        "SubAccountId": f"/subscriptions/{SUB}",
        "Tags": "NULL",
    }
    row.update(over)
    return row


def test_focus_row_keeps_its_charge_period_and_billed_cost() -> None:
    (event,) = focus.map_record(focus_row(), Context())
    assert event["ts"] == "2026-09-12T09:00:00Z"
    assert event["interval_s"] == 3600
    assert (event["cost"], event["meter"], event["region"]) == (0.192, "compute", "eastus2")
    assert (event["subscription_id"], event["customer_id"]) == (SUB, SUB)
    daily = focus.map_record(
        focus_row(ChargePeriodStart="2026-09-12 00:00:00", ChargePeriodEnd="2026-09-13 00:00:00"),
        Context(),
    )[0]
    assert daily["interval_s"] == 86400


def test_focus_effective_cost_on_request() -> None:
    (event,) = focus.map_record(focus_row(), Context(cost_column="EffectiveCost"))
    assert event["cost"] == 0.15


@pytest.mark.parametrize(
    "over",
    [
        pytest.param({"ChargeCategory": "Credit", "BilledCost": "-2.61"}, id="credit"),
        pytest.param(
            {"BilledCost": "-0.149", "ConsumedQuantity": "-1.0"}, id="negative-usage-correction"
        ),
    ],
)
def test_focus_credits_and_corrections_are_credit_payments(over: dict[str, str]) -> None:
    (event,) = focus.map_record(focus_row(**over), Context())
    assert event["type"] == "payment"
    assert event["kind"] == "credit"
    assert event["amount"] == abs(float(over["BilledCost"]))


def test_focus_egress_told_apart_from_networking() -> None:
    row = focus_row(
        ServiceCategory="Networking",
        ChargeDescription="Bandwidth Inter-Region - Data Transfer Out - North America",
    )
    assert focus.map_record(row, Context())[0]["meter"] == "egress"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        pytest.param({"ChargeCategory": "NULL"}, "missing_field", id="no-category"),
        pytest.param({"ChargePeriodStart": "12/32/2026"}, "invalid_timestamp", id="bad-date"),
        pytest.param({"BillingCurrency": "dollars"}, "invalid_value", id="bad-currency"),
        pytest.param({"BilledCost": "n/a"}, "wrong_type", id="bad-cost"),
        pytest.param({"ChargeCategory": "Tax"}, "tax", id="tax"),
        pytest.param(
            {"ConsumedQuantity": "-1", "BilledCost": "0.5"}, "negative_quantity", id="neg-qty"
        ),
    ],
)
def test_focus_rows_refused_with_reason(over: dict[str, str], code: str) -> None:
    run = Run(focus.map_record, Context())
    assert run.record(focus_row(**over)) == []
    assert run.summary.refused == {code: 1}
