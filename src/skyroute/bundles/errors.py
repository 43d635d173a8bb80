"""Errors of the bundle format: one for anything wrong, one for files that would run code."""

from __future__ import annotations

from skyroute.errors import SkyRouteError


class BundleError(SkyRouteError):
    """A bundle is malformed, inconsistent or does not match what it declares."""

    code = "bundle_invalid"


class UnsafeBundleError(BundleError):
    """A bundle holds files whose loading would run code (pickle, joblib, ``torch.save``).

    A subclass of BundleError so callers that only care "is it usable" catch both; the server
    maps the distinct ``code`` so an operator can tell refusal-by-policy from a broken upload.
    """

    code = "bundle_unsafe"
