"""A stand-in for IBM Quantum's HTTP services at the network edge (issue 15, part 2).

The real ``qiskit_ibm_runtime.QiskitRuntimeService`` runs unmodified; ``responses`` answers the HTTP requests it
makes (IBM Cloud IAM token exchange, Global Search for the service instances, Global Catalog for the plan, and
the Qiskit Runtime REST API: ``/v1/backends``, ``/backends/{name}/configuration`` and
``/backends/{name}/properties?updated_before=``) with bodies built from real ``props_*.json``/``conf_*.json``
data. A request nothing here answers fails as a connection error naming the URL.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import time
from urllib.parse import parse_qs, urlparse

import responses

IAM = "https://iam.cloud.ibm.com/identity/token"
SEARCH = re.compile(r"https://api\.global-search-tagging\.cloud\.ibm\.com/v3/resources/search.*")
CATALOG = re.compile(r"https://globalcatalog\.cloud\.ibm\.com/api/v1/.*")
API = "https://quantum.cloud.ibm.com/api/v1"
CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/0123456789abcdef:hanas-instance::"
JSON = "application/json"


def _stamp(value: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


class IBMCloudDouble:
    """``devices`` maps a backend name to (configuration JSON, [properties JSON, ...]) in the REST shapes;
    ``properties?updated_before=T`` returns the newest calibration strictly older than T, as IBM documents
    for ``IBMBackend.properties(datetime=)``. ``failures`` is a list of (url regex, status or exception) answered
    once each before the real answer (transient errors); ``token`` is the one valid API key."""

    def __init__(self, devices: dict, token: str = "good-token", failures=None):
        self.devices = devices
        self.token = token
        self.failures = list(failures or [])
        self.asked_before: list[str | None] = []
        self.requests: list[str] = []
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        m = self.mock
        m.start()
        m.add_callback(responses.POST, IAM, callback=self._iam, content_type=JSON)
        m.add_callback(responses.POST, SEARCH, callback=self._search, content_type=JSON)
        m.add_callback(responses.GET, CATALOG, callback=self._catalog, content_type=JSON)
        m.add_callback(responses.GET, re.compile(re.escape(API) + r"/.*"), callback=self._api, content_type=JSON)
        return self

    def __exit__(self, *exc):
        self.mock.stop()
        self.mock.reset()

    # ------------------------------------------------------------------ answers
    def _fail(self, req):
        self.requests.append(f"{req.method} {req.url}")
        for i, (pattern, what) in enumerate(self.failures):
            if re.search(pattern, req.url):
                del self.failures[i]
                if isinstance(what, BaseException):
                    raise what
                return (what, {}, json.dumps({"errors": [{"message": f"stand-in transient error {what}",
                                                          "code": what}]}))
        return None

    def _iam(self, req):
        failed = self._fail(req)
        if failed:
            return failed
        form = parse_qs(req.body if isinstance(req.body, str) else (req.body or b"").decode())
        if form.get("apikey", [""])[0] != self.token:
            return (400, {}, json.dumps({"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not "
                                         "be found.", "context": {}}))
        import jwt

        now = int(time.time())
        token = jwt.encode({"iat": now, "exp": now + 3600, "sub": "hanas"}, "stand-in-signing-key-of-32-bytes!",
                           algorithm="HS256")
        return (200, {}, json.dumps({"access_token": token, "refresh_token": "not-used", "token_type": "Bearer",
                                     "expires_in": 3600, "expiration": now + 3600}))

    def _search(self, req):
        return self._fail(req) or (200, {}, json.dumps({"items": [{
            "crn": CRN, "name": "hanas", "service_plan_unique_id": "open-plan", "tags": [],
            "doc": {"extensions": {"quantum": {"backends": list(self.devices)}}}}]}))

    def _catalog(self, req):
        return self._fail(req) or (200, {}, json.dumps({"overview_ui": {"en": {"display_name": "Open"}},
                                                        "metadata": {"pricing": {"type": "free"}}}))

    def _api(self, req):
        failed = self._fail(req)
        if failed:
            return failed
        url = urlparse(req.url)
        path = url.path.removeprefix("/api/v1")
        query = parse_qs(url.query)
        if path == "/backends":
            return (200, {}, json.dumps({"devices": [{"name": name, "class": "device"} for name in self.devices]}))
        match = re.fullmatch(r"/backends/([^/]+)/(configuration|properties|status)", path)
        if not match or match.group(1) not in self.devices:
            name = match.group(1) if match else path
            return (404, {}, json.dumps({"errors": [{"message": f"Backend {name} not found", "code": 1216}]}))
        name, what = match.groups()
        conf, history = self.devices[name]
        if what == "configuration":
            return (200, {}, json.dumps(conf))
        if what == "status":
            return (200, {}, json.dumps({"state": True, "status": "active", "length_queue": 0,
                                         "backend_version": conf.get("backend_version", "1.0.0")}))
        before = query.get("updated_before", [None])[0]
        self.asked_before.append(before)
        ordered = sorted(history, key=lambda p: _stamp(p["last_update_date"]))
        if before is not None:
            limit = _stamp(before)
            ordered = [p for p in ordered if _stamp(p["last_update_date"]) < limit]
        return (200, {}, json.dumps(copy.deepcopy(ordered[-1]) if ordered else {}))
