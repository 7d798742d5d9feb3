#!/usr/bin/env python3
"""Checks recorded HTTP exchanges against openapi.yaml, in both directions.

    scripts/openapi-check.py --spec openapi.yaml --exchanges exchanges.json [--report report.json]

Used by Tests/IntegrationTests/OpenAPIConformanceTests.swift, which sends real requests through nginx to
orderd and writes what it sent and got to `exchanges.json`:

    {"exchanges": [{"name": "...", "method": "POST", "target": "/orders?x=1",
                    "request_headers": {"content-type": "..."}, "request_body_b64": "..." | null,
                    "request_expectation": "valid" | "invalid" | null,
                    "refused_by_nginx": true | false (optional),
                    "status": 201, "headers": {"location": "..."}, "body_b64": "..."}]}

Forward direction, for every exchange: the path and method are documented (or fall under the path's
`x-method-not-allowed` / the spec's `x-unknown-path`; an exchange marked `refused_by_nginx`, a request nginx
refuses before routing it, is checked against the spec's `x-refused-by-nginx` whatever its path and method), the
status is documented for that operation, every
required header is there and matches its schema, the Content-Type is one of the documented media types, the body
validates against its schema (JSON Schema 2020-12, formats `uuid` and `date-time` enforced) or is empty when none
is documented (always for HEAD), and the cross-field rules hold (`error.request_id` = `X-Request-Id`,
`Location` = `/orders/` + `id`, `Allow` = the path's `x-allow`). `request_expectation` additionally checks the
request against the documented request body and parameters (a 201 must have sent a valid request, a 422 an
invalid one unless the rule is one JSON Schema cannot state).

Reverse direction: every (operation, status, media type) the spec documents was produced by some exchange,
unless its response carries `x-conformance: {exercised: false, reason: ...}`; a response so marked that was
produced anyway is reported as a stale marker.

Output: a JSON report on stdout (and in --report). Exit status 0 when everything holds, 1 when something does
not, 2 when the check could not run (the report's `fatal` says why).
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import subprocess
import sys
import uuid

# An http-style URI: the pre-4.18 RefResolver joins relative refs with urljoin, which ignores urn: bases.
SPEC_URI = "https://orderd.invalid/openapi.yaml"


def fatal(message, report_path=None):
    report = {"fatal": message}
    text = json.dumps(report, indent=2)
    print(text)
    if report_path:
        with open(report_path, "w") as f:
            f.write(text)
    sys.exit(2)


# Debian's interpreter, where scripts/deps.sh installs python3-jsonschema and python3-yaml.
SYSTEM_PYTHON = "/usr/bin/python3"


def _has_modules(python):
    try:
        probe = subprocess.run([python, "-c", "import yaml, jsonschema"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def import_dependencies(report_path):
    """yaml and jsonschema, from the first of: this interpreter (whatever `python3` is first on PATH); Debian's
    /usr/bin/python3, re-executing this script with it (scripts/deps.sh installs python3-jsonschema and
    python3-yaml there); a `pip install` into this interpreter as a last resort. `referencing` (jsonschema >=
    4.18) is used when present, else jsonschema's older RefResolver (Debian 12's python3-jsonschema is 4.10)."""
    try:
        import yaml  # noqa: F401
        import jsonschema  # noqa: F401
        return
    except ImportError as error:
        first = error
    if os.environ.get("ORDERD_OPENAPI_CHECK_REEXEC") == "1":
        system = f"{SYSTEM_PYTHON} (re-executed from another python3) lacks them too"
    elif os.path.realpath(sys.executable) == os.path.realpath(SYSTEM_PYTHON):
        system = f"this is {SYSTEM_PYTHON}"
    elif not os.access(SYSTEM_PYTHON, os.X_OK):
        system = f"there is no {SYSTEM_PYTHON}"
    elif not _has_modules(SYSTEM_PYTHON):
        system = f"{SYSTEM_PYTHON} lacks them too"
    else:
        os.environ["ORDERD_OPENAPI_CHECK_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "jsonschema", "pyyaml"],
        capture_output=True, text=True,
    )
    try:
        import importlib
        importlib.invalidate_caches()
        import yaml  # noqa: F401,F811
        import jsonschema  # noqa: F401,F811
    except ImportError as second:
        fatal(
            f"python modules missing for {sys.executable} ({first}); {system}; "
            f"install them with `apt-get install python3-jsonschema python3-yaml` (scripts/deps.sh). "
            f"`pip install --quiet jsonschema pyyaml` exited {pip.returncode}: "
            f"{(pip.stderr or pip.stdout).strip()[-800:]}; still: {second}",
            report_path,
        )


# ---------------------------------------------------------------------------------------------------------
# The spec


class Spec:
    def __init__(self, document):
        import jsonschema

        self.doc = document
        try:
            import referencing
            from referencing.jsonschema import DRAFT202012

            self.registry = referencing.Registry().with_resource(
                SPEC_URI, referencing.Resource.from_contents(document, default_specification=DRAFT202012)
            )
        except ImportError:
            self.registry = None
        self.format_checker = jsonschema.FormatChecker()

        @self.format_checker.checks("uuid", raises=ValueError)
        def is_uuid(value):
            if not isinstance(value, str):
                return True
            return str(uuid.UUID(value)) == value.lower() and len(value) == 36

        @self.format_checker.checks("date-time", raises=ValueError)
        def is_date_time(value):
            if not isinstance(value, str):
                return True
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
                raise ValueError("not RFC 3339")
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            return True

        self.spec_errors = []
        self._check_refs(document, "#")
        self.path_patterns = []  # (template, compiled regex), exact paths first
        for template in document.get("paths", {}):
            if "{" in template:
                regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
                self.path_patterns.append((template, re.compile(regex)))
            else:
                self.path_patterns.insert(0, (template, re.compile("^" + re.escape(template) + "$")))

    def _check_refs(self, node, where):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    self.pointer(ref)
                except KeyError:
                    self.spec_errors.append(f"{where}: $ref {ref} does not resolve")
            for key, value in node.items():
                self._check_refs(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._check_refs(value, f"{where}/{index}")

    def pointer(self, ref):
        if not ref.startswith("#/"):
            raise KeyError(ref)
        node = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise KeyError(ref)
        return node

    def deref(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self.pointer(node["$ref"])
            seen += 1
            if seen > 20:
                raise KeyError("$ref loop")
        return node

    def errors(self, instance, schema):
        """Validation errors of `instance` against a schema object taken from the spec."""
        import jsonschema

        absolute = _absolute_refs(copy.deepcopy(schema))
        if self.registry is not None:
            validator = jsonschema.Draft202012Validator(
                absolute, registry=self.registry, format_checker=self.format_checker
            )
        else:
            resolver = jsonschema.RefResolver(base_uri=SPEC_URI, referrer=self.doc, store={SPEC_URI: self.doc})
            validator = jsonschema.Draft202012Validator(
                absolute, resolver=resolver, format_checker=self.format_checker
            )
        out = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            location = "/".join(str(p) for p in error.absolute_path) or "(root)"
            out.append(f"{location}: {_short(error)}")
        return out

    def match_path(self, path):
        for template, regex in self.path_patterns:
            if regex.match(path):
                return template
        return None


def _absolute_refs(node):
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                node[key] = SPEC_URI + value
            else:
                _absolute_refs(value)
    elif isinstance(node, list):
        for value in node:
            _absolute_refs(value)
    return node


def _short(error):
    message = error.message
    if error.context:
        best = sorted(error.context, key=lambda e: len(list(e.absolute_path)), reverse=True)[:3]
        message += " [" + "; ".join(e.message[:200] for e in best) + "]"
    return message[:600]


METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]


def media_type(value):
    return (value or "").split(";")[0].strip().lower() or None


# ---------------------------------------------------------------------------------------------------------
# One exchange


def check_exchange(spec, exchange, seen):
    problems = []
    method = exchange["method"].upper()
    target = exchange["target"]
    path = target.split("?", 1)[0]
    status = int(exchange["status"])
    headers = {k.lower(): v for k, v in exchange.get("headers", {}).items()}
    body = base64.b64decode(exchange.get("body_b64") or "")

    template = spec.match_path(path)
    operation = None
    if exchange.get("refused_by_nginx"):
        refused = spec.doc.get("x-refused-by-nginx")
        if not refused:
            return [f"{method} {path}: marked refused_by_nginx, but the spec has no x-refused-by-nginx"], None
        template = None
        responses = refused.get("responses", {})
        key_path, key_method = "*refused-by-nginx*", "*"
    elif template is None:
        unknown = spec.doc.get("x-unknown-path")
        if not unknown:
            return [f"{method} {path}: no documented path matches and the spec has no x-unknown-path"], None
        responses = {"404": unknown["response"]}
        key_path, key_method = "*unknown-path*", "*"
    else:
        item = spec.doc["paths"][template]
        operation = item.get(method.lower()) if method.lower() in METHODS else None
        if operation is not None:
            responses = operation.get("responses", {})
            key_path, key_method = template, method
        elif "x-method-not-allowed" in item:
            responses = {"405": item["x-method-not-allowed"]}
            key_path, key_method = template, "*other-methods*"
        else:
            return [f"{method} {template}: method not documented and the path has no x-method-not-allowed"], None

    label = f"{key_method} {key_path}"
    if str(status) not in responses:
        documented = ", ".join(sorted(responses))
        return [f"{label}: status {status} is not documented (documented: {documented})"], None
    response = spec.deref(responses[str(status)])

    # Headers.
    for name, header in (response.get("headers") or {}).items():
        header = spec.deref(header)
        value = headers.get(name.lower())
        if value is None:
            if header.get("required"):
                problems.append(f"{label} {status}: required header {name} is missing")
            continue
        if "schema" in header:
            for error in spec.errors(value, header["schema"]):
                problems.append(f"{label} {status}: header {name}: {value!r}: {error}")

    # Content.
    content = response.get("content") or {}
    found_type = media_type(headers.get("content-type"))
    coverage_type = None
    if method == "HEAD":
        if body:
            problems.append(f"{label} {status}: a HEAD response has a body of {len(body)} bytes")
    elif not content:
        if body:
            problems.append(f"{label} {status}: no body is documented, got {len(body)} bytes")
    elif found_type not in content:
        problems.append(
            f"{label} {status}: Content-Type {headers.get('content-type')!r} is not one of the documented "
            f"{sorted(content)}"
        )
    else:
        coverage_type = found_type
        schema = (content[found_type] or {}).get("schema")
        instance = None
        if found_type == "application/json" or found_type.endswith("+json"):
            try:
                instance = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                problems.append(f"{label} {status}: body is not JSON ({error}): {body[:200]!r}")
        else:
            instance = body.decode("utf-8", "replace")
        if instance is not None and schema is not None:
            for error in spec.errors(instance, schema):
                problems.append(f"{label} {status}: body {error}")
        if isinstance(instance, dict):
            problems += cross_checks(label, status, instance, headers, spec, template)
    if status == 405 and template is not None:
        allow = spec.doc["paths"][template].get("x-allow")
        if allow is not None and headers.get("allow") != allow:
            problems.append(f"{label} 405: Allow is {headers.get('allow')!r}, the spec's x-allow is {allow!r}")

    seen.add((key_path, key_method, str(status), coverage_type if content and method != "HEAD" else None))

    expectation = exchange.get("request_expectation")
    if expectation and operation is not None:
        problems += check_request(spec, label, operation, template, exchange, expectation)
    return problems, f"{label} {status}"


def cross_checks(label, status, body, headers, spec, template):
    problems = []
    error = body.get("error")
    if isinstance(error, dict) and "request_id" in error:
        if headers.get("x-request-id") != error["request_id"]:
            problems.append(
                f"{label} {status}: error.request_id {error['request_id']!r} differs from X-Request-Id "
                f"{headers.get('x-request-id')!r}"
            )
    if "location" in headers and isinstance(body.get("id"), str):
        if headers["location"] != "/orders/" + body["id"]:
            problems.append(f"{label} {status}: Location {headers['location']!r} does not name id {body['id']!r}")
    return problems


def check_request(spec, label, operation, template, exchange, expectation):
    """Whether the request the test sent is valid per the documented request body and parameters."""
    reasons = []
    request_headers = {k.lower(): v for k, v in (exchange.get("request_headers") or {}).items()}
    parameters = list(operation.get("parameters") or [])
    parameters += list(spec.doc["paths"][template].get("parameters") or [])
    for parameter in parameters:
        parameter = spec.deref(parameter)
        if parameter.get("in") != "header":
            continue
        value = request_headers.get(parameter["name"].lower())
        if value is None:
            if parameter.get("required"):
                reasons.append(f"header {parameter['name']} missing")
            continue
        reasons += [f"header {parameter['name']}: {e}" for e in spec.errors(value, parameter["schema"])]
    request_body = operation.get("requestBody")
    if request_body is not None:
        request_body = spec.deref(request_body)
        raw = base64.b64decode(exchange.get("request_body_b64") or "")
        sent_type = media_type(request_headers.get("content-type"))
        content = request_body.get("content") or {}
        if sent_type not in content:
            reasons.append(f"request Content-Type {sent_type!r} not documented")
        else:
            try:
                instance = json.loads(raw.decode("utf-8"))
                reasons += [f"request body {e}" for e in spec.errors(instance, content[sent_type]["schema"])]
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                reasons.append(f"request body is not JSON: {error}")
    if expectation == "valid" and reasons:
        return [f"{label}: the server accepted a request the spec calls invalid: " + "; ".join(reasons)]
    if expectation == "invalid" and not reasons:
        return [f"{label} {exchange['status']}: the server refused a request the spec calls valid"]
    return []


# ---------------------------------------------------------------------------------------------------------
# Coverage


def documented(spec):
    """(path, method, status, media type or None) -> x-conformance marker or None."""
    out = {}

    def add(path, method, status, response, has_body):
        response = spec.deref(response)
        marker = response.get("x-conformance")
        content = response.get("content") or {}
        if has_body and content:
            for media in content:
                out[(path, method, status, media)] = marker
        else:
            out[(path, method, status, None)] = marker

    unknown = spec.doc.get("x-unknown-path")
    if unknown:
        add("*unknown-path*", "*", "404", unknown["response"], True)
    refused = spec.doc.get("x-refused-by-nginx")
    if refused:
        for status, response in refused.get("responses", {}).items():
            add("*refused-by-nginx*", "*", str(status), response, True)
    for template, item in spec.doc.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for status, response in operation.get("responses", {}).items():
                add(template, method.upper(), str(status), response, method != "head")
        if "x-method-not-allowed" in item:
            add(template, "*other-methods*", "405", item["x-method-not-allowed"], True)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--exchanges", required=True)
    parser.add_argument("--report")
    args = parser.parse_args()

    import_dependencies(args.report)
    import yaml

    try:
        with open(args.spec) as f:
            document = yaml.safe_load(f)
    except Exception as error:  # noqa: BLE001
        fatal(f"cannot read {args.spec}: {error}", args.report)
    with open(args.exchanges) as f:
        exchanges = json.load(f)["exchanges"]

    spec = Spec(document)
    report = {"fatal": None, "spec_errors": list(spec.spec_errors), "notes": [], "exchanges": [],
              "missing": [], "stale_markers": []}
    if not str(document.get("openapi", "")).startswith("3.1"):
        report["spec_errors"].append(f"openapi is {document.get('openapi')!r}, expected 3.1.x")
    try:
        from openapi_spec_validator import validate as validate_spec
        try:
            validate_spec(document)
        except Exception as error:  # noqa: BLE001
            report["spec_errors"].append(f"openapi-spec-validator: {str(error)[:800]}")
    except ImportError:
        report["notes"].append("openapi-spec-validator not installed: the spec was not checked against the "
                               "OpenAPI 3.1 meta-schema (only $refs and the responses below)")

    seen = set()
    for exchange in exchanges:
        try:
            problems, matched = check_exchange(spec, exchange, seen)
        except Exception as error:  # noqa: BLE001
            problems, matched = [f"checker error: {type(error).__name__}: {error}"], None
        report["exchanges"].append({"name": exchange["name"], "matched": matched, "problems": problems})

    for key, marker in sorted(documented(spec).items(), key=lambda kv: str(kv[0])):
        path, method, status, media = key
        text = f"{method} {path} {status}" + (f" {media}" if media else "")
        not_exercised = isinstance(marker, dict) and marker.get("exercised") is False
        if not_exercised:
            if not marker.get("reason"):
                report["spec_errors"].append(f"{text}: x-conformance exercised: false without a reason")
            if key in seen:
                report["stale_markers"].append(f"{text}: marked not exercised, but a test produced it")
        elif key not in seen:
            report["missing"].append(text)

    ok = not (report["spec_errors"] or report["missing"] or report["stale_markers"]
              or any(e["problems"] for e in report["exchanges"]))
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
