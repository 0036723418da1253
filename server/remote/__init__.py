"""The ribbon for Excel without Python: ``/xlwings/<macro>`` on the built-in engine, and ``/officejs/``."""

from flask import Flask

from server.remote import files, pages


def init_app(app: Flask) -> None:
    pages.init_app(app)
    files.init_app(app)


__all__ = ["init_app"]
