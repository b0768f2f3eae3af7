"""The ``supplysync`` command line: :mod:`~scenarios.cli.main` parses and dispatches each
sub-command to the package that does the work; :mod:`~scenarios.cli.dlq` works through a
store's dead letters.  Exit codes are :mod:`scenarios.errors`'s."""
