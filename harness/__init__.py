"""What the tests and the benchmarks share: a gunicorn to serve the project, clients that
load it, and the check of the database against what the clients were told."""
