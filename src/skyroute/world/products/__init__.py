"""One module per product as sold, each implementing :class:`~.base.Product`."""

from __future__ import annotations

from skyroute.registry import Registry
from skyroute.world.products.base import Product

PRODUCTS: Registry[type[Product]] = Registry("product")
for _name, _target in {
    "aws-lambda": "aws_lambda:AWSLambda",
    "aws-fargate": "fargate:Fargate",
    "azure-functions-consumption": "azure_functions:AzureConsumption",
    "azure-functions-flex": "azure_functions:AzureFlex",
    "azure-container-apps": "container_apps:ContainerApps",
    "gcp-cloud-run-functions": "cloud_run:CloudRunFunctions",
    "gcp-cloud-run": "cloud_run:CloudRunService",
}.items():
    PRODUCTS.register(_name, f"skyroute.world.products.{_target}")

#: Products in the fixed order of every array index (``PlacementTable.product``).
PRODUCT_ORDER: tuple[str, ...] = tuple(PRODUCTS.names())


def get_product(name: str) -> Product:
    """The product registered under ``name`` ("did you mean" on a typo)."""
    return PRODUCTS.load(name)()


def products_of(provider: str) -> list[Product]:
    """Every product ``provider`` sells, in ``PRODUCT_ORDER``."""
    found = [get_product(name) for name in PRODUCT_ORDER]
    return [p for p in found if p.provider == provider]
