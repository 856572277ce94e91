"""Request validation with the messages Sentry's serializers (Django REST framework) produce.

Errors are collected as ``{field: [message, ...]}`` like DRF's ``serializer.errors``; list
children that fail report ``{field: {"<index>": [message]}}`` (DRF ListField).
"""

from __future__ import annotations

import json
import re
from typing import Any

import sentry_relay

from .platforms import is_valid_platform

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
SLUG_MESSAGE = (
    "Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens. "
    "It cannot be entirely numeric."
)
_SLUG_RE = re.compile(r"^(?![0-9]+$)[a-z0-9_\-]+$")
_HEX32_RE = re.compile(r"^[a-f0-9]{32}$")
ROLES = ("member", "admin", "manager", "owner")
MAX_SENSITIVE_FIELD_CHARS = 4000


class Invalid(Exception):
    """One field's validation failure."""

    def __init__(self, message: Any):
        super().__init__(message)
        self.detail = message if isinstance(message, dict | list) else [message]


# --------------------------------------------------------------------------- primitive fields
def as_bool(value: Any) -> bool:
    if value in (True, "true", "True", "TRUE", "1", 1, "on", "yes"):
        return True
    if value in (False, "false", "False", "FALSE", "0", 0, "off", "no"):
        return False
    raise Invalid("Must be a valid boolean.")


def as_int(value: Any, min_value: int | None = None, max_value: int | None = None) -> int:
    if isinstance(value, bool):
        raise Invalid("A valid integer is required.")
    try:
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
        if isinstance(value, str) and str(number) != value.strip():
            raise ValueError
    except (TypeError, ValueError) as exc:
        raise Invalid("A valid integer is required.") from exc
    if min_value is not None and number < min_value:
        raise Invalid(f"Ensure this value is greater than or equal to {min_value}.")
    if max_value is not None and number > max_value:
        raise Invalid(f"Ensure this value is less than or equal to {max_value}.")
    return number


def as_str(value: Any, max_length: int | None = None, allow_blank: bool = False, trim: bool = True) -> str:
    """DRF CharField: trims surrounding whitespace by default (trim_whitespace=True)."""
    if isinstance(value, (bool, dict | list)):
        raise Invalid("Not a valid string.")
    text = str(value)
    if trim:
        text = text.strip()
    if not allow_blank and not text.strip():
        raise Invalid(BLANK)
    if max_length is not None and len(text) > max_length:
        raise Invalid(f"Ensure this field has no more than {max_length} characters.")
    return text


def as_choice(value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise Invalid(f'"{value}" is not a valid choice.')
    return value


def as_slug(value: Any, max_length: int) -> str:
    text = as_str(value, max_length=max_length)
    if not _SLUG_RE.match(text):
        raise Invalid(SLUG_MESSAGE)
    return text


def as_str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(f'Expected a list of items but got type "{type(value).__name__}".')
    return [str(item) for item in value]


class Form:
    """Collects per-field errors for one request body (unknown keys are ignored)."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        self.errors: dict[str, Any] = {}
        self.values: dict[str, Any] = {}

    def field(self, name: str, convert, *, required: bool = False, allow_null: bool = False) -> None:
        if name not in self.body:
            if required:
                self.errors[name] = [REQUIRED]
            return
        value = self.body[name]
        if value is None:
            if allow_null:
                self.values[name] = None
            else:
                self.errors[name] = [NULL]
            return
        try:
            self.values[name] = convert(value)
        except Invalid as exc:
            self.errors[name] = exc.detail


# --------------------------------------------------------------------------- privacy fields
def sensitive_fields(value: Any) -> list[str]:
    items = as_str_list(value)
    if items and not all(items):
        raise Invalid("Empty values are not allowed.")
    if sum(len(item) for item in items) > MAX_SENSITIVE_FIELD_CHARS:
        raise Invalid("List of sensitive fields is too long.")
    return items


def safe_fields(value: Any) -> list[str]:
    items = as_str_list(value)
    if items and not all(items):
        raise Invalid("Empty values are not allowed.")
    for item in items:
        try:
            sentry_relay.validate_pii_selector(item)
        except ValueError as exc:
            raise Invalid(f"Invalid syntax near {item!r}: {exc}") from exc
    return items


def relay_pii_config(value: Any) -> str | None:
    """A JSON *string* checked by Relay's validator, like validate_pii_config_update."""
    if not isinstance(value, str):
        raise Invalid("Not a valid string.")
    value = value.strip()
    if not value:
        return value
    try:
        sentry_relay.validate_pii_config(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    return value


def privacy_fields(form: Form, *, project: bool) -> None:
    form.field("dataScrubber", as_bool)
    form.field("dataScrubberDefaults", as_bool)
    form.field("scrubIPAddresses", as_bool)
    form.field("sensitiveFields", sensitive_fields)
    form.field("safeFields", safe_fields)
    form.field("relayPiiConfig", relay_pii_config, allow_null=True)
    form.field("scrapeJavaScript", as_bool)
    form.field("storeCrashReports", lambda v: as_int(v, min_value=-1), allow_null=project)


def platform(value: Any) -> str:
    text = as_str(value, allow_blank=True)
    if not is_valid_platform(text):
        raise Invalid("Invalid platform")
    return text


def role(value: Any) -> str:
    if value not in ROLES:
        raise Invalid("Invalid role")
    return value


def allowed_domains(value: Any) -> list[str]:
    items = as_str_list(value)
    if not items:
        raise Invalid("Empty value will block all requests, use * to accept from all domains")
    return items


def hex32(value: Any) -> str:
    text = as_str(value)
    if not _HEX32_RE.match(text):
        raise Invalid("This value does not match the required pattern.")
    return text


def rate_limit(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type(value).__name__}."]})
    sub = Form(value)
    sub.field("count", lambda v: as_int(v, min_value=0), allow_null=True)
    sub.field("window", lambda v: as_int(v, min_value=0, max_value=60 * 60 * 24), allow_null=True)
    if sub.errors:
        raise Invalid(sub.errors)
    return sub.values


def is_json_string(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True
