"""The operator's and analyst's command line: one module per command group."""
