"""Outside access on the dashboard: a failing certificate or dynamic-DNS update is a problem told
in words, needing the admin's attention (webui/problems.py)."""
from __future__ import annotations


def test_the_dashboard_tells_certificate_and_dynamic_dns_failures_in_words():
    from appliance.core.services.request_log import ErrorRecord
    from appliance.webui.problems import describe

    def said(logger: str, message: str):
        return describe(ErrorRecord(0.0, "WARNING", logger, message, None, message))

    p = said("appliance.core.services.reach.certificates",
             "certificate: Could not reach the certificate authority (no connection) (next try in 600 s)")
    assert p.attention and p.sentence == ("Getting the certificate for outside access failed: Could not reach the "
                                          "certificate authority (no connection). Admin → Outside access has the "
                                          "details.")
    p = said("appliance.core.services.reach.certificates", "dynamic DNS: DuckDNS did not answer in time")
    assert p.attention and p.sentence == "The free name could not be pointed at your home (DuckDNS did not answer in time)."
