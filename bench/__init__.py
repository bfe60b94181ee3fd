"""`xinfang bench`: performance figures of the engine, the timers and the web pages (docs/performance.md).
Imported by the CLI only; the engine and the web layer never import it."""
