"""The reliability suite: chaos under load, and the soak."""
