"""Intake: upstream messages to domain commands, exactly once, or quarantined with a reason."""
