"""What do the pages show? The staff read models: queues and counts, the task and case pages, the case
diagram, search, notices, and `StaffViews`, the facade `Engine.staff` gives the web layer. Reads tables
through the access scope; may use runtime helpers (work items, case state, serialisation) but never the
command runner."""
