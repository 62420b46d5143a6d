"""The command line: click commands and their views; the only code that imports click or prints."""
