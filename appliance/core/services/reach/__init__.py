"""Reaching Hearth from outside the home (issue 18): a certificate from an ACME CA for the
family's domain or dynamic-DNS name, renewed in the background, served on the TLS listeners,
and a self-test that says in plain words what stands in the way."""
