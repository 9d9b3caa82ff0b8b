"""The one rule for text people type, in every form and every API field: no control characters.

Invisible C0 and C1 control characters (and DEL, and lone surrogates a JSON body can carry) are stripped; a
multi-line field keeps its tabs and line breaks (CR LF and CR become LF); a single-line field refuses line breaks
and turns a tab into a space. Such text breaks spreadsheets, SMS and the mini-program, and nobody means to type it.
"""

import re

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField

# C0 but tab, LF and CR; DEL; C1; lone surrogates.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]")


def line_break_message():
    return _l("Use one line: remove the line breaks.")


def strip_controls(value: str) -> str:
    """``value`` without invisible control characters; tabs and line breaks are kept."""
    return _INVISIBLE.sub("", value)


def clean_text(value, *, multiline=False):
    """Typed text by the rule above; None and non-text pass through for the field's own checks.

    :raises ValueError: a line break in a single-line field (the message is the user's).
    """
    if not isinstance(value, str):
        return value
    value = strip_controls(value)
    if multiline:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    if _LINE_BREAK.search(value):
        raise ValueError(str(line_break_message()))
    return value.replace("\t", " ")


def _filter(multiline):
    def clean(value):
        return clean_text(value, multiline=multiline)

    return clean


class PlainTextForm(FlaskForm):
    """Every page form's base: its text fields (a textarea multi-line, other text single-line) follow the rule;
    passwords and hidden fields (tokens, a checked sheet) are not typed text and are left alone."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            kind = unbound_field.field_class
            if issubclass(kind, StringField) and not issubclass(kind, PasswordField | HiddenField):
                rule = _filter(multiline=issubclass(kind, TextAreaField))
                options = {**options, "filters": [rule, *unbound_field.kwargs.get("filters", ())]}
            return unbound_field.bind(form=form, **options)


class PlainText(ma.fields.String):
    """Every API text field: the rule above; ``multiline=True`` for descriptions and notes.

    ``refuse=True`` strips nothing but lone surrogates: a field whose declared pattern excludes control characters
    (api.text_field) refuses them through that pattern, as its OpenAPI declaration says.
    """

    def __init__(self, *args, multiline=False, refuse=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.multiline, self.refuse = multiline, refuse

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if self.refuse:
            # The declared pattern refuses control characters with its message; lone surrogates no database stores.
            if not isinstance(value, str):
                return value
            value = _SURROGATES.sub("", value)
            return value.replace("\r\n", "\n").replace("\r", "\n") if self.multiline else value
        try:
            return clean_text(value, multiline=self.multiline)
        except ValueError as error:
            raise ma.ValidationError(str(error)) from None
