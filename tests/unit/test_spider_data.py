import pytest

from tradeoff.errors import UserError
from tradeoff.suites.spider.data import SpiderData


def test_reads_official_layout(spider_dir):
    data = SpiderData(spider_dir)
    assert [e.case_id for e in data.dev] == ["shop-0000", "shop-0001", "gone-0002", "shop-0003"]
    assert len(data.train()) == 3
    schema = data.schema("shop")
    assert [t.name for t in schema.tables] == ["item", "shop"]
    assert schema.tables[0].primary_key == ("id",)
    assert (schema.foreign_keys[0].table, schema.foreign_keys[0].ref_table) == ("item", "shop")


def test_missing_database_has_a_reason(spider_dir):
    data = SpiderData(spider_dir)
    assert data.missing_db_reason("shop") is None
    assert "gone is missing" in data.missing_db_reason("gone")


def test_non_sqlite_file_is_detected(spider_dir):
    path = spider_dir / "database" / "shop" / "shop.sqlite"
    path.write_bytes(b"this is not a database at all")
    assert "is not SQLite" in SpiderData(spider_dir).missing_db_reason("shop")


def test_bad_directories_are_one_clear_error(tmp_path, spider_dir):
    with pytest.raises(UserError, match="directory not found"):
        SpiderData(tmp_path / "nowhere")
    (spider_dir / "tables.json").unlink()
    with pytest.raises(UserError, match="lacks tables.json"):
        SpiderData(spider_dir)


def test_malformed_json(spider_dir):
    (spider_dir / "dev.json").write_text("[{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        _ = SpiderData(spider_dir).dev
    (spider_dir / "dev.json").write_text('[{"db_id": 1}]')
    with pytest.raises(UserError, match="entry 0 lacks"):
        _ = SpiderData(spider_dir).dev


def test_checksums_cover_files_and_databases(spider_dir):
    sums = SpiderData(spider_dir).checksums(["shop", "gone"])
    assert set(sums) == {"dev.json", "tables.json", "database/shop"}
    assert all(len(v) == 64 for v in sums.values())
