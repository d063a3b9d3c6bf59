"""Entry points: the Function Compute handler, the command line, the invocation event and context."""
