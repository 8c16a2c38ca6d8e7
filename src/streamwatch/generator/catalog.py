"""Reference data: countries, regions, SKUs and list prices (USD, pay-as-you-go, approximate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Country:
    """A customer country: its clock (no DST), nearest region, money and address space."""

    code: str
    utc_offset_h: int
    region: str
    euro: bool
    tld: str
    ip_prefix: str


COUNTRIES: Final[tuple[Country, ...]] = (
    Country("US", -5, "eastus", False, "com", "23.94"),
    Country("US", -8, "westus2", False, "com", "52.160"),
    Country("GB", 0, "uksouth", False, "co.uk", "51.140"),
    Country("DE", 1, "germanywestcentral", True, "de", "85.214"),
    Country("FR", 1, "francecentral", True, "fr", "90.84"),
    Country("NL", 1, "westeurope", True, "nl", "145.53"),
    Country("IE", 0, "northeurope", True, "ie", "86.43"),
    Country("ES", 1, "westeurope", True, "es", "88.27"),
    Country("SE", 1, "swedencentral", False, "se", "81.226"),
    Country("CA", -5, "canadacentral", False, "ca", "142.112"),
    Country("BR", -3, "brazilsouth", False, "com.br", "177.71"),
    Country("IN", 5, "centralindia", False, "in", "117.200"),
    Country("SG", 8, "southeastasia", False, "sg", "118.189"),
    Country("JP", 9, "japaneast", False, "jp", "126.72"),
    Country("AU", 10, "australiaeast", False, "com.au", "101.160"),
)

EUR_PER_USD: Final = 0.92


@dataclass(frozen=True, slots=True)
class Sku:
    """A metered product: meter, unit, price per unit (USD) and size."""

    name: str
    meter: str
    unit: str
    price_usd: float
    vcpus: int | None = None
    gpus: int | None = None


SKUS: Final[dict[str, Sku]] = {
    s.name: s
    for s in (
        Sku("Standard_B1s", "compute", "hours", 0.0104, vcpus=1),
        Sku("Standard_B2s", "compute", "hours", 0.0416, vcpus=2),
        Sku("Standard_D2s_v5", "compute", "hours", 0.096, vcpus=2),
        Sku("Standard_D4s_v5", "compute", "hours", 0.192, vcpus=4),
        Sku("Standard_D8s_v5", "compute", "hours", 0.384, vcpus=8),
        Sku("Standard_E4s_v5", "compute", "hours", 0.252, vcpus=4),
        Sku("Standard_E8s_v5", "compute", "hours", 0.504, vcpus=8),
        Sku("Standard_F16s_v2", "compute", "hours", 0.677, vcpus=16),
        Sku("Standard_NC24ads_A100_v4", "gpu", "hours", 3.673, vcpus=24, gpus=1),
        Sku("Standard_NC6s_v3", "gpu", "hours", 3.06, vcpus=6, gpus=1),
        # Storage is reported hourly as GB held; the price is per GB-month over 730 hours.
        Sku("Standard_LRS", "storage", "GB", 0.0184 / 730),
        Sku("Premium_LRS", "storage", "GB", 0.15 / 730),
        Sku("Internet_Egress_Zone1", "egress", "GB", 0.087),
        Sku("Windows_Server_8core", "license", "hours", 0.368),
    )
}

EMAIL_WORDS: Final[tuple[str, ...]] = (
    "acme",
    "blue",
    "north",
    "river",
    "pixel",
    "atlas",
    "nova",
    "cedar",
    "lumen",
    "orbit",
    "delta",
    "maple",
    "quartz",
    "harbor",
    "summit",
    "vertex",
    "ember",
    "cobalt",
    "fjord",
    "tide",
)
FIRST_NAMES: Final[tuple[str, ...]] = (
    "alice",
    "bob",
    "carla",
    "dev",
    "emma",
    "farid",
    "grace",
    "hiro",
    "ines",
    "jonas",
    "kofi",
    "lena",
    "mateo",
    "nora",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sven",
    "yuki",
)
