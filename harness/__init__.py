"""What the tests and the benchmarks share: the environment of a server under measurement and
a gunicorn to serve the project in it, its workers found and measured, clients that load it
(the soak's traffic among them), and the check of the database against what the clients
were told."""
