"""Service-task handlers: plain functions the diagrams call by name (`camunda:topic`)."""

from handlers import (  # noqa: F401  (each module registers its handlers)
    archive,
    duplicates,
    notices,
    query_code,
    registration,
    supervision,
)
