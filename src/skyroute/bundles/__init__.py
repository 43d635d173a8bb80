"""Model bundles: a folder (or zip) of bundle.json plus model files in safe formats only.

See docs/bundles.md. Importing this package loads no model library; ONNX Runtime, XGBoost,
LightGBM and safetensors load only when a model of their format does.
"""

from skyroute.bundles.archive import extract_bundle, pack, pack_bundle
from skyroute.bundles.errors import BundleError, UnsafeBundleError
from skyroute.bundles.manifest import FORMATS, KINDS, Manifest, Tensor
from skyroute.bundles.verify import Bundle, read_bundle
from skyroute.bundles.write import write_bundle

__all__ = [
    "FORMATS",
    "KINDS",
    "Bundle",
    "BundleError",
    "Manifest",
    "Tensor",
    "UnsafeBundleError",
    "extract_bundle",
    "pack",
    "pack_bundle",
    "read_bundle",
    "write_bundle",
]
