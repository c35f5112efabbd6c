"""Typed, frozen models of every response shape, built leniently from JSON or XML.

Every model has an ``extra`` mapping holding response keys it does not model, as sent.
"""

# --- sms, reporting and account models (smsapi_async/models/sms.py, account.py) ---

# --- lists, numbers, keywords, email and reseller models (lists.py, numbers.py, keywords.py, resellers.py) ---
