"""The CME domain: Child, Case, Disclosure and RightsRequest aggregates and their use cases."""
