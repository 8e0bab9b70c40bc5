"""The HTTP API for caseworker and DPO tools: an entry point over the same use cases.

Every request carries an OpenID Connect bearer token from the council's
identity provider; the staff member's roles decide what they may do and
their subject is the actor of every event they cause. Errors are RFC 9457
problem documents that name the field and the rule, never the value.
"""
