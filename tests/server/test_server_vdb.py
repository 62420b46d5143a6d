"""Vector databases: create (auto_populate), list, get, records, search (with where), size, delete."""

from __future__ import annotations

RECORD = {
    "island": "Torgersen",
    "bill_length_mm": 39.1,
    "bill_depth_mm": 18.7,
    "flipper_length_mm": 181.0,
    "body_mass_g": 3750.0,
    "sex": "male",
    "species": "Adelie",
}


def test_vector_database_routes(api, trained) -> None:
    sid = trained["sid"]
    base = f"/compute/session/{sid}/vector_databases"
    auto = api.ok("post", base, json={"name": "all", "auto_populate": True})
    assert auto["record_count"] == 344 and auto["auto_populated"] is True and auto["created_at"]
    empty = api.ok("post", base, json={"name": "empty", "auto_populate": False})
    assert empty["record_count"] == 0
    assert api.post(base, json={"name": "all"}).status_code == 409
    assert sorted(v["name"] for v in api.ok("get", base)["vector_databases"]) == ["all", "empty"]
    assert api.ok("get", f"{base}/all")["record_count"] == 344
    assert api.ok("get", f"{base}/all/size")["size"] == 344

    results = api.ok("post", f"{base}/all/search", json={"query_record": RECORD, "k": 5})["results"]
    assert len(results) == 5
    top = results[0]
    assert top["record"]["island"] == "Torgersen" and top["record"] == top["original_data"]
    assert abs(top["distance"] - (1 - top["similarity"])) < 1e-6 and "field_similarity" in top
    assert [r["similarity"] for r in results] == sorted((r["similarity"] for r in results), reverse=True)
    dream = api.ok(
        "post",
        f"{base}/all/search",
        json={"query_record": RECORD, "k": 4, "where": "island = 'Dream' AND body_mass_g > 3000"},
    )["results"]
    assert len(dream) == 4 and all(
        r["record"]["island"] == "Dream" and r["record"]["body_mass_g"] > 3000 for r in dream
    )
    assert api.post(f"{base}/all/search", json={"query_record": RECORD, "where": "DROP TABLE x"}).status_code == 400

    added = api.ok("post", f"{base}/empty/records", json={"records": [RECORD, {**RECORD, "island": "Dream"}]})
    assert added["records_added"] == 2 and api.ok("get", f"{base}/empty/size")["size"] == 2
    found = api.ok("post", f"{base}/empty/search", json={"query_record": RECORD, "k": 10})["results"]
    assert len(found) == 2 and found[0]["record"]["island"] == "Torgersen" and found[0]["similarity"] > 0.999
    assert api.post(f"{base}/empty/records", json={"records": "x"}).status_code == 422  # bodies.BODIES

    assert api.ok("delete", f"{base}/empty")["deleted"] is True
    assert api.get(f"{base}/empty").status_code == 404
    assert api.get(f"{base}/empty/size").status_code == 404
