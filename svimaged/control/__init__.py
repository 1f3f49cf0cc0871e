"""Control protocol: HTTP/JSON over the Unix socket (SPEC section 7)."""
