"""Email-to-SMS authorisations (``add-email``, ``delete-email``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._convert import api_field, extra_field, from_api, to_bool

__all__ = ["EmailSmsResult"]


@attrs.frozen(slots=True)
class EmailSmsResult:
    """The answer to ``add-email`` / ``delete-email``.

    Attributes:
        success: the API's own flag (``true``); an absent flag counts as success, since a
            failure arrives as an error code and is raised.
    """

    success: bool = api_field(to_bool, default=True)
    extra: Mapping[str, Any] = extra_field()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> EmailSmsResult:
        return from_api(cls, data)
