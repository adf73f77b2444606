"""Judges data cases with a pydantic export.

`python verdicts.py MODULE.py CASES.json`, where CASES is a list of
{"type": "<CloudEvents type>", "text": "<JSON text of data>"} or
{"envelope": true, "text": "<JSON text of a whole event>"}; prints one
JSON list of {"ok": bool, "pointer": "/data/..."} in the same order.
"""

import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("herald_export", sys.argv[1])
assert spec is not None and spec.loader is not None
module = importlib.util.module_from_spec(spec)
sys.modules["herald_export"] = module
spec.loader.exec_module(module)

with open(sys.argv[2], encoding="utf-8") as f:
    cases = json.load(f)
verdicts = []
for case in cases:
    try:
        if case.get("envelope"):
            module.parse_event(case["text"])
        else:
            module.parse_data(case["type"], json.loads(case["text"]))
        verdicts.append({"ok": True})
    except module.EventError as e:
        verdicts.append({"ok": False, "pointer": e.pointer})
json.dump(verdicts, sys.stdout)
