"""vCPUs and GPUs of an Azure VM size, read from its name (``Standard_NC24ads_A100_v4``).

Azure's naming puts the vCPU count after the family letters (``D4s`` = 4 vCPUs; ``E4-2s`` =
2 active of 4) and marks GPU machines with the N families (NC, ND, NG, NV). The GPU count is
not in the name: a table holds the sizes whose count is known, and any other N-series size
counts as at least one GPU, which is what the mining detector needs to know. Pure; None for
names that are not VM sizes.
"""

from __future__ import annotations

import re
from typing import Final

_SIZE: Final = re.compile(
    r"(?:standard|basic)_(?P<family>[a-z]+)(?P<vcpus>\d+)(?:-(?P<active>\d+))?[a-z]*(?:_.*)?",
    re.IGNORECASE,
)

_GPUS: Final = {
    "nc6": 1,
    "nc12": 2,
    "nc24": 4,
    "nc24r": 4,
    "nc6s_v2": 1,
    "nc12s_v2": 2,
    "nc24s_v2": 4,
    "nc6s_v3": 1,
    "nc12s_v3": 2,
    "nc24s_v3": 4,
    "nc24rs_v3": 4,
    "nc4as_t4_v3": 1,
    "nc8as_t4_v3": 1,
    "nc16as_t4_v3": 1,
    "nc64as_t4_v3": 4,
    "nc24ads_a100_v4": 1,
    "nc48ads_a100_v4": 2,
    "nc96ads_a100_v4": 4,
    "nc40ads_h100_v5": 1,
    "nc80adis_h100_v5": 2,
    "nd6s": 1,
    "nd12s": 2,
    "nd24s": 4,
    "nd40rs_v2": 8,
    "nd96asr_v4": 8,
    "nd96amsr_a100_v4": 8,
    "nd96isr_h100_v5": 8,
    "nv6": 1,
    "nv12": 2,
    "nv24": 4,
    "nv12s_v3": 1,
    "nv24s_v3": 2,
    "nv48s_v3": 4,
    "nv36ads_a10_v5": 1,
    "nv72ads_a10_v5": 2,
}


def vm_shape(size: str | None) -> tuple[int, int] | None:
    """``(vcpus, gpus)`` of an Azure VM size name, or None if ``size`` is not one."""
    if not size:
        return None
    match = _SIZE.fullmatch(size.strip())
    if match is None:
        return None
    vcpus = int(match["active"] or match["vcpus"])
    family = match["family"].lower()
    gpus = 0
    if family.startswith("n") and len(family) >= 2 and family[1] in "cdgv":
        key = size.strip().lower().split("_", 1)[1]
        gpus = _GPUS.get(key, 1)
    return vcpus, gpus
