"""Build a Spider directory (official layout) from the release archive, optionally with the
questions from the Hugging Face dataset `xlangai/spider`.

    python -m tradeoff.suites.spider.prepare --archive spider.zip --out data/spider
    python -m tradeoff.suites.spider.prepare --archive https://.../spider.zip --out data/spider --questions-from-hub

The archive (a local path or a URL) supplies tables.json and database/; the hub dataset can
supply dev/train questions. The hub copy lacks the parsed `sql` field, so hardness is
"unknown" for questions taken from it; the archive's dev.json is preferred when present.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tradeoff.errors import UserError, os_error_text
from tradeoff.suites.spider.data import SpiderData

WANTED = ("dev.json", "tables.json", "train_spider.json", "train_others.json", "dev_gold.sql", "train_gold.sql")
HUB_DATASET = "xlangai/spider"


def _fetch(archive: str, workdir: Path) -> Path:
    if archive.startswith(("http://", "https://")):
        target = workdir / "spider.zip"
        try:
            with urllib.request.urlopen(archive, timeout=60) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise UserError(f"cannot download {archive}: {exc}") from None
        return target
    path = Path(archive).expanduser()
    if not path.is_file():
        raise UserError(f"archive not found: {path}")
    return path


def _release_root(names: list[str]) -> PurePosixPath:
    """The folder inside the zip that holds tables.json (archives nest it differently)."""
    roots = [PurePosixPath(n).parent for n in names if PurePosixPath(n).name == "tables.json" and "__MACOSX" not in n]
    if not roots:
        raise UserError("archive holds no tables.json: not a Spider release archive")
    return min(roots, key=lambda p: len(p.parts))


def extract_release(zip_path: Path, out: Path) -> None:
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise UserError(f"{zip_path} is not a zip archive") from None
    with archive:
        names = archive.namelist()
        root = _release_root(names)
        for name in names:
            rel = PurePosixPath(name)
            if rel.is_absolute() or ".." in rel.parts:
                raise UserError(f"archive member {name!r} escapes the target directory; refusing it")
            try:
                inner = rel.relative_to(root)
            except ValueError:
                continue
            keep = str(inner) in WANTED or (inner.parts[:1] == ("database",) and len(inner.parts) == 3)
            if not keep or name.endswith("/"):
                continue
            dest = out.joinpath(*inner.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(name) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)


def questions_from_hub(out: Path) -> None:
    try:
        from datasets import load_dataset

        dataset = load_dataset(HUB_DATASET)
    except Exception as exc:  # offline, missing dataset, auth: all the same to the user
        raise UserError(f"cannot load {HUB_DATASET} from the hub: {str(exc).splitlines()[0]}") from None
    for split, filename in (("train", "train_spider.json"), ("validation", "dev.json")):
        if (out / filename).is_file():
            continue
        rows = [{"db_id": r["db_id"], "question": r["question"], "query": r["query"]} for r in dataset[split]]
        (out / filename).write_text(json.dumps(rows, indent=1))


def prepare(archive: str, out: Path, from_hub: bool = False, force: bool = False) -> SpiderData:
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} exists and is not empty; pass --force to replace it")
    staging = Path(tempfile.mkdtemp(prefix=".spider-", dir=out.parent if out.parent.exists() else None))
    try:
        extract_release(_fetch(archive, staging), staging / "spider")
        if from_hub:
            questions_from_hub(staging / "spider")
        data = SpiderData(staging / "spider")
        try:
            data.dev, data.schemas  # noqa: B018 - validate before replacing anything
        except UserError as exc:  # name the archive, not the staging folder that is about to vanish
            raise UserError(f"{str(exc).replace(str(staging / 'spider') + '/', '')} (in archive {archive})") from None
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        (staging / "spider").rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SpiderData(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True, help="Spider release zip: a local path or a URL")
    parser.add_argument("--out", required=True, type=Path, help="directory to create (official layout)")
    parser.add_argument("--questions-from-hub", action="store_true", help=f"take missing questions from {HUB_DATASET}")
    parser.add_argument("--force", action="store_true", help="replace an existing directory")
    args = parser.parse_args(argv)
    try:
        data = prepare(args.archive, args.out, args.questions_from_hub, args.force)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # --out under a file, a read-only or full disk
        print(f"error: cannot write {args.out}: {os_error_text(exc)}", file=sys.stderr)
        return 2
    dbs = sorted({e.db_id for e in data.dev})
    missing = [db for db in dbs if data.missing_db_reason(db)]
    print(
        f"Spider ready at {args.out}: {len(data.dev)} dev questions over {len(dbs)} databases"
        + (f"; missing databases: {', '.join(missing)}" if missing else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
