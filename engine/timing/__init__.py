"""What time is it, and which days count? The injected clock (and the hook that makes SpiffWorkflow read
it) and the Chinese working-day calendar with the deadline helpers diagrams call. Uses nothing else of the
engine."""
