"""``/branch``: the branch portal, where a branch without Python uploads its workbook to merge it."""

from server.portal import evidence as _evidence  # noqa: F401 (its pages join the blueprint)
from server.portal import ledger as _ledger  # noqa: F401 (its pages join the blueprint)
from server.portal.pages import init_app

__all__ = ["init_app"]
