#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates objects against a CRD's OpenAPI v3 schema, offline (no API server here).

Usage: crd_validate.py CRD.yaml OBJECTS.yaml
Prints one line per object ("ok NAME" or "invalid NAME: reason") and exits 0 only when every
object is valid. The schema's Kubernetes extensions are turned into JSON Schema as the API
server reads them: x-kubernetes-int-or-string is an integer or a string (its anyOf, if it has
one, says which); other x-kubernetes-*
keys and defaults do not constrain a value.
"""
import sys

import jsonschema
import yaml


def to_json_schema(s):
    if isinstance(s, dict):
        out = {k: to_json_schema(v) for k, v in s.items() if not k.startswith("x-kubernetes-")}
        if s.get("x-kubernetes-int-or-string") and "anyOf" not in s:
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return out
    if isinstance(s, list):
        return [to_json_schema(v) for v in s]
    return s


def main():
    crd = yaml.safe_load(open(sys.argv[1]))
    version = crd["spec"]["versions"][0]
    schema = to_json_schema(version["schema"]["openAPIV3Schema"])
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    want = "%s/%s" % (crd["spec"]["group"], version["name"])
    bad = 0
    for obj in yaml.safe_load_all(open(sys.argv[2])):
        if not obj:
            continue
        name = obj.get("metadata", {}).get("name", "?")
        errs = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        if obj.get("apiVersion") != want or obj.get("kind") != crd["spec"]["names"]["kind"]:
            errs = errs or ["apiVersion/kind is not %s %s" % (want, crd["spec"]["names"]["kind"])]
        if errs:
            bad += 1
            e = errs[0]
            where = ".".join(str(p) for p in getattr(e, "path", [])) or "object"
            print("invalid %s: %s: %s" % (name, where, getattr(e, "message", e)))
        else:
            print("ok %s" % name)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
