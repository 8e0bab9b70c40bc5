"""Per-child envelope encryption, so that destroying one key erases one child everywhere."""
