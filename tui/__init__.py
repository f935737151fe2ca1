"""mathbench's Textual workbench and command line: presentation over `core`."""
