"""One module per `assist` subcommand; see assist/cli.py for the contract."""
