"""One resource per API area, each a thin view over the client's one request path."""

# --- sms and account resources ---

# --- lists, numbers, keywords, email and reseller resources ---
