"""``python -m bench``: a module that raises fails the command by name, after the others have run."""

from __future__ import annotations

import types


def test_a_failing_module_is_named_and_the_others_still_run(capsys):
    from bench import __main__ as bench_main

    ran = []

    def ok(name):
        def main(argv):
            ran.append(name)
            return [{"bench": name, "metric": "m", "value": 1.0}]

        return types.SimpleNamespace(main=main)

    def broken(argv):
        ran.append("broken")
        raise ValueError("the shapes do not match")

    modules = [("first", ok("first")), ("broken", types.SimpleNamespace(main=broken)), ("last", ok("last"))]
    rows, failed = bench_main.run_modules(modules)
    assert ran == ["first", "broken", "last"] and failed == ["broken"]
    assert [row["bench"] for row in rows] == ["first", "last"]
    assert "ValueError: the shapes do not match" in capsys.readouterr().err
