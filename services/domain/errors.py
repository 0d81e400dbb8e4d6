"""What an aggregate raises when asked to break a rule."""


class RuleViolationError(Exception):
    """An aggregate refused a command that its use case should have checked first (a bug)."""
