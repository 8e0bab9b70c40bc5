"""Pure functions from events to read-model changes, and the read schemas."""
