"""The CLI names an ``s3://`` bucket's objects as the user did: every message and JSON
``name``/``object`` field of ``put``, ``get``, ``rm``, ``object show`` and ``rename`` says
``s3://B/K`` for a backend bucket (``ais://B/K`` for an ``ais://`` one), and the help
shows ``[ais|s3]://`` where an ``s3://`` bucket is accepted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.node import NodeProcess

from .conftest import Target

ON_MOTO = [pytest.mark.parametrize("front_node", [False], indirect=True, ids=["open"]),
           pytest.mark.parametrize("target", ["moto"], indirect=True)]


def run(node: NodeProcess, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "aisfs", *args, "--endpoint", node.url],
                          capture_output=True, input=stdin, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"ais://" not in done.stderr, done.stderr.decode()
    return done.stdout.decode()


@ON_MOTO[0]
@ON_MOTO[1]
@pytest.mark.slow  # the aisfs CLI as a process per call
def test_s3_results_name_s3(front_node: NodeProcess, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket()
    direct = target.client()
    src = tmp_path / "up.txt"
    src.write_bytes(b"one file\n")

    out = run(front_node, "put", str(src), f"s3://{bucket}/up.txt")
    assert out.strip() == f'PUT "{src}" => s3://{bucket}/up.txt'
    out = run(front_node, "put", str(src), f"s3://{bucket}/j.txt", "--json")
    assert [d["object"] for d in json.loads(out)] == [f"s3://{bucket}/j.txt"]
    out = run(front_node, "put", "-", f"s3://{bucket}/stdin.txt", stdin=b"piped\n")
    assert out.strip() == f'PUT "-" => s3://{bucket}/stdin.txt'
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "a").write_bytes(b"a")
    (tree / "d" / "b").write_bytes(b"b")
    out = run(front_node, "put", str(tree), f"s3://{bucket}/pre/")
    assert out.startswith("PUT 2 objects") and f"=> s3://{bucket}/pre/ in " in out
    out = run(front_node, "put", str(tree), f"s3://{bucket}/dry/", "--dry-run")
    assert sorted(out.splitlines()) == [f'[dry-run] PUT "{tree / "a"}" => s3://{bucket}/dry/a',
                                       f'[dry-run] PUT "{tree / "d" / "b"}" => '
                                       f's3://{bucket}/dry/d/b']
    assert direct.get_object(Bucket=bucket, Key="pre/d/b")["Body"].read() == b"b"

    dst = tmp_path / "down.txt"
    out = run(front_node, "get", f"s3://{bucket}/up.txt", str(dst))
    assert out.startswith(f'GET "up.txt" from s3://{bucket} as "{dst}"')
    out = run(front_node, "get", f"s3://{bucket}/up.txt", str(dst), "--json")
    assert json.loads(out)["object"] == f"s3://{bucket}/up.txt"
    out = run(front_node, "get", "-r", f"s3://{bucket}/pre/", str(tmp_path / "many"))
    assert f"from s3://{bucket}/pre/ into" in out
    assert (tmp_path / "many" / "pre" / "d" / "b").read_bytes() == b"b"

    shown = json.loads(run(front_node, "object", "show", f"s3://{bucket}/up.txt", "--json"))
    assert shown["name"] == f"s3://{bucket}/up.txt" and shown["size"] == len(b"one file\n")
    table = run(front_node, "object", "show", f"s3://{bucket}/up.txt")
    assert f"s3://{bucket}/up.txt" in table

    out = run(front_node, "object", "rename", f"s3://{bucket}/j.txt", "k.txt")
    assert out.strip() == f'renamed "s3://{bucket}/j.txt" => "k.txt"'
    assert direct.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"one file\n"

    out = run(front_node, "rm", f"s3://{bucket}/up.txt", f"s3://{bucket}/k.txt")
    assert out.splitlines() == [f'deleted "up.txt" from s3://{bucket}',
                                f'deleted "k.txt" from s3://{bucket}']
    out = run(front_node, "object", "rm", f"s3://{bucket}/stdin.txt")
    assert out.strip() == f'deleted "stdin.txt" from s3://{bucket}'
    left = {o["Key"] for o in direct.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert left == {"pre/a", "pre/d/b"}

    out = run(front_node, "bucket", "props", "set", f"s3://{bucket}",
              "versioning.validate_warm_get=true")
    assert out.splitlines()[0] == f'"s3://{bucket}": bucket props updated'
    shown = json.loads(run(front_node, "bucket", "props", "show", f"s3://{bucket}", "--json"))
    assert shown["versioning"]["validate_warm_get"] is True


@ON_MOTO[0]
@ON_MOTO[1]
@pytest.mark.slow
def test_rm_of_both_providers_at_once(front_node: NodeProcess, target: Target,
                                      tmp_path: Path) -> None:
    """One ``aisfs rm`` with an ``ais://`` and an ``s3://`` object deletes each through its
    own provider and names each as given."""
    remote = target.new_bucket()
    direct = target.client()
    direct.put_object(Bucket=remote, Key="r", Body=b"remote")
    local = "loc-" + remote[-8:]
    run(front_node, "bucket", "create", f"ais://{local}")
    src = tmp_path / "f"
    src.write_bytes(b"local")
    assert run(front_node, "put", str(src), f"ais://{local}/l").strip() \
        == f'PUT "{src}" => ais://{local}/l'
    shown = json.loads(run(front_node, "object", "show", f"ais://{local}/l", "--json"))
    assert shown["name"] == f"ais://{local}/l"
    out = run(front_node, "rm", f"ais://{local}/l", f"s3://{remote}/r")
    assert out.splitlines() == [f'deleted "l" from ais://{local}',
                                f'deleted "r" from s3://{remote}']
    assert "Contents" not in direct.list_objects_v2(Bucket=remote)
    assert json.loads(run(front_node, "ls", f"ais://{local}", "--json")) == []
    run(front_node, "bucket", "rm", f"ais://{local}")


@pytest.mark.parametrize("verb", [("put",), ("get",), ("rm",), ("ls",), ("object", "show"),
                                  ("object", "rename"), ("bucket", "props", "show"),
                                  ("bucket", "props", "set"), ("bucket", "ls")])
def test_help_says_s3_is_accepted(verb: tuple[str, ...]) -> None:
    done = subprocess.run([sys.executable, "-m", "aisfs", *verb, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "[ais|s3]://" in done.stdout
