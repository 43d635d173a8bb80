"""The built-in ``rules`` engine, and the example for engine authors (docs/engines.md).

An engine is one module that declares NAME, VERSION, DESCRIPTION, INPUT_SCHEMA, OUTPUT_SCHEMA
and ``decide(request, config) -> dict``. It runs in a sandbox: only the standard-library
modules listed in docs/engines.md can be imported, and there is no network and no file system.

The rules: stay with the caller's cloud and region when the caller is in a region the server
places into (``config["regions"]`` may list more); give short functions little memory and long
ones more, never less than their footprint; run very busy functions as containers.
"""

import math

NAME = "rules"
VERSION = "1"
DESCRIPTION = "Caller's own region, memory from duration and footprint, containers when busy."

INPUT_SCHEMA = {
    "type": "object",
    "required": ["function"],
    "properties": {
        "function": {
            "type": "object",
            "required": ["duration_ms", "memory_mb", "origin"],
            "properties": {
                "duration_ms": {"type": "number", "exclusiveMinimum": 0},
                "memory_mb": {"type": "number", "exclusiveMinimum": 0},
                "origin": {"type": "string", "pattern": "^(aws|azure|gcp):"},
                "rate_per_min": {"type": "number", "minimum": 0},
            },
        }
    },
}

OUTPUT_SCHEMA = {
    "type": "object",
    "required": ["provider", "region", "memory_mb", "platform", "purchase"],
    "properties": {
        "provider": {"enum": ["aws", "azure", "gcp"]},
        "region": {"type": "string"},
        "memory_mb": {"type": "integer", "minimum": 128},
        "platform": {"enum": ["function", "container"]},
        "purchase": {"enum": ["on-demand", "spot"]},
        "explanation": {"type": "string"},
    },
}

#: Regions the server's world places into, by provider (the caller's own region if listed).
HOME = {
    "aws": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
            "ap-southeast-1", "sa-east-1", "ap-south-1"],
    "azure": ["eastus", "westus2", "northeurope", "germanywestcentral", "japaneast",
              "southeastasia", "brazilsouth", "centralindia"],
    "gcp": ["us-east4", "us-west1", "europe-west1", "europe-west3", "asia-northeast1",
            "asia-southeast1", "southamerica-east1", "asia-south1"],
}  # fmt: skip
SIZES = (128, 256, 512, 1024, 1536, 2048)


def decide(request, config):  # type: ignore[no-untyped-def]
    function = request["function"]
    provider, region = function["origin"].split(":", 1)
    if region not in HOME[provider] + list(config.get("regions", [])):
        region = HOME[provider][0]
    duration = function["duration_ms"]
    wanted = 256 if duration < 100 else 512 if duration < 1000 else 1024
    need = max(wanted, function["memory_mb"] * 1.2)
    memory = next((s for s in SIZES if s >= need), SIZES[-1])
    if provider == "azure" and memory > 1536:
        memory = 1536
    busy = function.get("rate_per_min", 0) > config.get("container_above_per_min", 600)
    return {
        "provider": provider,
        "region": region,
        "memory_mb": int(memory),
        "platform": "container" if busy else "function",
        "purchase": "on-demand",
        "explanation": f"rules: caller's cloud, {memory} MB for {math.ceil(duration)} ms",
    }
