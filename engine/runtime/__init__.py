"""How does a case run? The command runner (one transaction per command), engine stepping, task-tree
compaction, serialisation, case state, work items and timer rows, assignment, incidents, the script
engine, the service-task handler registry, and the timer scheduler that fires due timers through
commands. Uses every room below it (`store`, `audit`, `timing`, `org`, `bpmn`); never `reads`."""
