"""``/xlwings/<macro>``: the ribbon's macros run on the server for Excel without local Python."""

from server.remote.pages import init_app

__all__ = ["init_app"]
