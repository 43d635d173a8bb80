"""Model bundles: a folder (or zip) of bundle.json plus model files in safe formats only.

See docs/bundles.md. Heavy libraries (ONNX Runtime, XGBoost, ...) load only when a model does.
"""

from skyroute.bundles.archive import extract_bundle, pack_bundle
from skyroute.bundles.manifest import KINDS, BundleError, Manifest, UnsafeBundleError
from skyroute.bundles.verify import Bundle, read_bundle
from skyroute.bundles.write import write_bundle

__all__ = [
    "KINDS",
    "Bundle",
    "BundleError",
    "Manifest",
    "UnsafeBundleError",
    "extract_bundle",
    "pack_bundle",
    "read_bundle",
    "write_bundle",
]
