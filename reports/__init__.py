"""Results JSON, terminal summary and HTML reports of benchmark runs."""
