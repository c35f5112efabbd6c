"""``python -m smsapi_async.cli``: the ``smsapi`` command."""

from . import main

main()
