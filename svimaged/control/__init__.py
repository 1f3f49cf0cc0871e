"""The control protocol: HTTP/JSON over the Unix socket (contract section 7), the API over
the pipeline (`service`), jobs, metrics, and the client the CLI and the health check use."""
