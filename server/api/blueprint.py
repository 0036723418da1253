"""The API's blueprint: flask-smorest's, reading the body `server.jsonbody` has already parsed strictly."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from server.jsonbody import request_json


class _CheckedBodyParser(FlaskParser):
    """webargs' parser, given the body as `server.jsonbody` parsed it instead of parsing it again.

    The strict parse already refused what webargs would (and more); a second parse
    of a 5,000-row push cost as much as the first.
    """

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return request_json()


class ApiBlueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _CheckedBodyParser()
