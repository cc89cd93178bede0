"""The test suite: each module's docstring names the section of docs/contract.md it covers."""
