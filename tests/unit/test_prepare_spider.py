import zipfile

import pytest

from tradeoff.errors import UserError
from tradeoff.suites.spider.data import SpiderData
from tradeoff.suites.spider.prepare import main, prepare


def zip_release(src, zip_path, prefix="spider/"):
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + str(path.relative_to(src)))
        zf.writestr("__MACOSX/spider/._tables.json", "junk")
    return zip_path


def test_builds_the_official_layout_from_an_archive(spider_dir, tmp_path):
    archive = zip_release(spider_dir, tmp_path / "spider.zip")
    data = prepare(str(archive), tmp_path / "out")
    assert [e.case_id for e in data.dev] == [e.case_id for e in SpiderData(spider_dir).dev]
    assert data.missing_db_reason("shop") is None
    assert (tmp_path / "out" / "database" / "shop" / "shop.sqlite").read_bytes() == (
        spider_dir / "database" / "shop" / "shop.sqlite"
    ).read_bytes()


def test_cli_reports_missing_databases(spider_dir, tmp_path, capsys):
    archive = zip_release(spider_dir, tmp_path / "spider.zip", prefix="spider_data/")
    assert main(["--archive", str(archive), "--out", str(tmp_path / "out")]) == 0
    assert "missing databases: gone" in capsys.readouterr().out


def test_refuses_to_overwrite_and_bad_archives(spider_dir, tmp_path, capsys):
    archive = zip_release(spider_dir, tmp_path / "spider.zip")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    assert main(["--archive", str(archive), "--out", str(tmp_path / "busy")]) == 2
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"  # nothing lost
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["--archive", str(tmp_path / "junk.zip"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "not a zip archive" in err


def test_zip_slip_is_refused(spider_dir, tmp_path):
    archive = zip_release(spider_dir, tmp_path / "spider.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("spider/../../evil.txt", "x")
    with pytest.raises(UserError, match="escapes"):
        prepare(str(archive), tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_hub_questions_fail_clearly_offline(spider_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (spider_dir / "train_spider.json").unlink()
    archive = zip_release(spider_dir, tmp_path / "spider.zip")
    with pytest.raises(UserError, match="cannot load xlangai/spider"):
        prepare(str(archive), tmp_path / "out", from_hub=True)
