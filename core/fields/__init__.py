"""Fields: what a piece of required data is, how its value is checked and put in canonical form.

Only the light, pure parts are imported here (the workflow sandbox loads this package); reading
values from speech and phrasing questions live in their own modules and are imported by name.
"""

from core.fields.declaration import DataField, FieldType, field_description, infer_field_type
from core.fields.values import FieldScalar, FieldValue, normalise_value

__all__ = [
    "DataField",
    "FieldScalar",
    "FieldType",
    "FieldValue",
    "field_description",
    "infer_field_type",
    "normalise_value",
]
