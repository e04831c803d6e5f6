"""The channel API's JSON parser with a bound on the body: REST framework's own reads the request
stream directly, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE, so a token holder could make a worker
read and parse a body of any size."""

from __future__ import annotations

import io

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is larger than the API accepts.")
    default_code = "request_too_large"


class BoundedJSONParser(JSONParser):
    """JSON of at most CRM_API_MAX_BODY_BYTES: refused with 413 from its declared length before a
    byte is read, and, whatever it declares, once more than that has been read."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.CRM_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestBodyTooLarge()
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestBodyTooLarge()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:  # nesting deeper than the interpreter goes: not a ValueError, was a 500
            raise ParseError(_("JSON parse error - the document nests too deeply.")) from None
