"""Service-task handlers: plain functions the diagrams call by name (`camunda:topic`)."""

from handlers import demo  # noqa: F401  (registers its handlers)
