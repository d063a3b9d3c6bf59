"""One run: wiring, plan and act per key, the executor, retries, deadline, report and metrics."""
