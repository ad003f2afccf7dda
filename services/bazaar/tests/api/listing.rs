//! The public marketplace: listing with filters, sorting and pages, and full-text search.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, echo_wasm, expect_json, spawn_app, spawn_app_with, string_field,
};

fn names(listing: &Value) -> Vec<String> {
    listing["agents"]
        .as_array()
        .unwrap_or_else(|| panic!("`agents` is not an array in {listing}"))
        .iter()
        .map(|agent| string_field(agent, "name").to_owned())
        .collect()
}

async fn list(app: &TestApp, query: &[(&str, &str)]) -> Value {
    expect_json(app.list_agents(query).await, StatusCode::OK).await
}

async fn search(app: &TestApp, query: &[(&str, &str)]) -> Value {
    expect_json(app.search(query).await, StatusCode::OK).await
}

/// A marketplace without the examples and three agents of one owner:
/// `alpha` (json, 0.01), `bravo` (text, 0.05), `charlie` (text + json, 0.10), uploaded in
/// that order. Returns the app, the owner's id and token.
async fn three_agents() -> (TestApp, String, String) {
    let app = spawn_app_with(|config| config.seed_examples = false).await;
    let (user_id, token) = app.register_user().await;
    for (name, capabilities, price) in [
        ("alpha", json!(["json"]), json!(0.01)),
        ("bravo", json!(["text"]), json!(0.05)),
        ("charlie", json!(["text", "json"]), json!(0.10)),
    ] {
        let metadata = json!({
            "name": name,
            "description": format!("The {name} agent."),
            "version": "1.0.0",
            "capabilities": capabilities,
            "price": price,
        });
        app.upload_ok(&token, &metadata, echo_wasm()).await;
    }
    (app, user_id, token)
}

#[tokio::test]
async fn a_marketplace_without_seeds_is_empty() {
    let app = spawn_app_with(|config| config.seed_examples = false).await;

    let listing = list(&app, &[]).await;

    assert_eq!(listing["agents"], json!([]));
    assert_eq!(listing["total"], 0);
    assert_eq!(listing["limit"], 20);
    assert_eq!(listing["offset"], 0);
}

#[tokio::test]
async fn the_listing_is_paginated_with_limit_and_offset() {
    let app = spawn_app().await;

    let first = list(&app, &[("sort", "name"), ("limit", "3")]).await;
    let second = list(&app, &[("sort", "name"), ("limit", "3"), ("offset", "3")]).await;
    let third = list(&app, &[("sort", "name"), ("limit", "3"), ("offset", "6")]).await;
    let beyond = list(&app, &[("sort", "name"), ("limit", "3"), ("offset", "30")]).await;

    assert_eq!(first["total"], 8);
    assert_eq!(first["limit"], 3);
    assert_eq!(first["offset"], 0);
    assert_eq!(second["offset"], 3);
    assert_eq!(names(&first).len(), 3);
    assert_eq!(names(&second).len(), 3);
    assert_eq!(names(&third).len(), 2);
    assert_eq!(names(&beyond), Vec::<String>::new());
    assert_eq!(beyond["total"], 8);
    let all: Vec<String> = [names(&first), names(&second), names(&third)].concat();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "sort=name pages are in name order");
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        8,
        "no agent on two pages"
    );

    // The default page holds all eight.
    let default_page = list(&app, &[]).await;
    assert_eq!(default_page["limit"], 20);
    assert_eq!(names(&default_page).len(), 8);
}

#[tokio::test]
async fn the_listing_filters_by_capability_price_owner_and_status() {
    let (app, user_id, token) = three_agents().await;
    let (other_user, other_token) = app.register_user().await;
    app.upload_ok(
        &other_token,
        &json!({"name": "delta", "description": "Another owner's agent.", "version": "1.0.0",
                "capabilities": ["csv"], "price": 2}),
        echo_wasm(),
    )
    .await;

    let sorted_names = |listing: Value| {
        let mut names = names(&listing);
        names.sort();
        names
    };
    assert_eq!(
        sorted_names(list(&app, &[("capability", "json")]).await),
        ["alpha", "charlie"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("capability", "text")]).await),
        ["bravo", "charlie"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("capability", "nothing")]).await),
        Vec::<String>::new()
    );
    assert_eq!(
        sorted_names(list(&app, &[("min_price", "0.05")]).await),
        ["bravo", "charlie", "delta"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("max_price", "0.05")]).await),
        ["alpha", "bravo"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("min_price", "0.02"), ("max_price", "0.10")]).await),
        ["bravo", "charlie"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("owner", &other_user)]).await),
        ["delta"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("owner", &user_id), ("capability", "json")]).await),
        ["alpha", "charlie"]
    );
    assert_eq!(
        sorted_names(list(&app, &[("min_rating", "0")]).await).len(),
        4
    );
    assert_eq!(
        sorted_names(list(&app, &[("min_rating", "4.5")]).await),
        Vec::<String>::new()
    );

    let bravo = list(&app, &[("capability", "text"), ("max_price", "0.05")]).await;
    let bravo_id = string_field(&bravo["agents"][0], "id").to_owned();
    expect_json(
        app.patch_agent(&token, &bravo_id, &json!({"status": "inactive"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let inactive = list(&app, &[("status", "inactive")]).await;
    assert_eq!(names(&inactive), ["bravo"]);
    assert_eq!(inactive["total"], 1);
    assert_eq!(
        sorted_names(list(&app, &[("status", "active")]).await),
        ["alpha", "charlie", "delta"]
    );
}

#[tokio::test]
async fn the_listing_sorts_by_name_price_age_and_popularity() {
    let (app, _, token) = three_agents().await;

    assert_eq!(
        names(&list(&app, &[("sort", "name")]).await),
        ["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        names(&list(&app, &[("sort", "price_asc")]).await),
        ["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        names(&list(&app, &[("sort", "price_desc")]).await),
        ["charlie", "bravo", "alpha"]
    );
    assert_eq!(
        names(&list(&app, &[("sort", "oldest")]).await),
        ["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        names(&list(&app, &[("sort", "newest")]).await),
        ["charlie", "bravo", "alpha"]
    );
    assert_eq!(
        names(&list(&app, &[]).await),
        ["charlie", "bravo", "alpha"],
        "newest is the default"
    );
    assert_eq!(names(&list(&app, &[("sort", "rating")]).await).len(), 3);

    // Popularity follows the tasks run: bravo twice, charlie once, alpha never.
    let ids: Vec<(String, String)> = list(&app, &[("sort", "name")]).await["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|agent| {
            (
                string_field(agent, "name").to_owned(),
                string_field(agent, "id").to_owned(),
            )
        })
        .collect();
    let id_of = |name: &str| ids.iter().find(|(n, _)| n == name).unwrap().1.clone();
    for name in ["bravo", "bravo", "charlie"] {
        app.execute_ok(&token, &id_of(name), "popular").await;
    }
    let popular = list(&app, &[("sort", "popular")]).await;
    assert_eq!(names(&popular), ["bravo", "charlie", "alpha"]);
    assert_eq!(popular["agents"][0]["tasks_completed"], 2);
}

#[tokio::test]
async fn bad_listing_parameters_are_a_bad_request() {
    let app = spawn_app().await;

    for query in [
        [("limit", "0")],
        [("limit", "101")],
        [("limit", "ten")],
        [("offset", "-1")],
        [("sort", "random")],
        [("status", "deleted")],
        [("min_price", "cheap")],
        [("max_price", "-1")],
        [("min_rating", "high")],
        [("capability", "Not A Tag")],
        [("owner", "not-a-user-id")],
    ] {
        let message = assert_error(
            app.list_agents(&query).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(!message.is_empty(), "{query:?}");
    }
    // The bounds themselves are fine.
    assert_eq!(
        list(&app, &[("limit", "1")]).await["agents"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(list(&app, &[("limit", "100")]).await["limit"], 100);
}

#[tokio::test]
async fn search_matches_names_descriptions_and_capabilities_by_prefix() {
    let app = spawn_app().await;

    let by_prefix = search(&app, &[("q", "jso")]).await;
    assert_eq!(by_prefix["query"], "jso");
    let found = names(&by_prefix);
    assert!(found.contains(&"json-format".to_owned()), "{found:?}");
    assert!(found.contains(&"csv-to-json".to_owned()), "{found:?}");
    assert!(!found.contains(&"echo".to_owned()), "{found:?}");
    assert_eq!(by_prefix["total"].as_u64(), Some(found.len() as u64));

    // A word only in a description.
    assert_eq!(
        names(&search(&app, &[("q", "transliterated")]).await),
        ["slugify"]
    );
    // A capability only.
    assert_eq!(names(&search(&app, &[("q", "sha512")]).await), ["hash"]);
    // Nothing.
    let nothing = search(&app, &[("q", "xylophone")]).await;
    assert_eq!(nothing["agents"], json!([]));
    assert_eq!(nothing["total"], 0);
}

#[tokio::test]
async fn search_ranks_closer_matches_first() {
    let app = spawn_app_with(|config| config.seed_examples = false).await;
    let (_, token) = app.register_user().await;
    let mentions_once = json!({
        "name": "generic-tool",
        "description": "A general purpose utility for many tasks that happen to include a zebra once, among a great many other words that have nothing to do with it at all.",
        "version": "1.0.0", "capabilities": ["utility"], "price": 0,
    });
    let all_about_it = json!({
        "name": "zebra",
        "description": "Zebra stripes for zebra lovers.",
        "version": "1.0.0", "capabilities": ["zebra"], "price": 0,
    });
    app.upload_ok(&token, &mentions_once, echo_wasm()).await;
    app.upload_ok(&token, &all_about_it, echo_wasm()).await;

    let ranked = search(&app, &[("q", "zebra")]).await;

    assert_eq!(names(&ranked), ["zebra", "generic-tool"]);
    assert_eq!(ranked["total"], 2);
}

#[tokio::test]
async fn search_results_are_paginated() {
    let app = spawn_app().await;

    let all = search(&app, &[("q", "conversion")]).await;
    let first = search(&app, &[("q", "conversion"), ("limit", "1")]).await;
    let second = search(
        &app,
        &[("q", "conversion"), ("limit", "1"), ("offset", "1")],
    )
    .await;

    assert_eq!(all["total"], 2, "{all}");
    assert_eq!(first["total"], 2);
    assert_eq!(first["limit"], 1);
    assert_eq!(second["offset"], 1);
    assert_eq!([names(&first), names(&second)].concat(), names(&all));
}

#[tokio::test]
async fn a_search_without_a_query_is_a_bad_request() {
    let app = spawn_app().await;

    assert_error(
        app.search(&[]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        app.search(&[("q", "")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        app.search(&[("q", "   ")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        app.search(&[("q", "json"), ("limit", "0")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn search_treats_operators_in_the_query_as_plain_text() {
    let app = spawn_app().await;

    // Quotes, stars, parentheses and FTS keywords must not become a server error.
    for hostile in [
        "\"json",
        "json*",
        "(json OR",
        "NEAR(",
        "a:b",
        "-json",
        "'; DROP TABLE agents; --",
    ] {
        let response = app.search(&[("q", hostile)]).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "q = {hostile:?}: {}",
            response.text().await.unwrap()
        );
    }
}

#[tokio::test]
async fn an_agent_shows_the_badges_of_its_imports_and_listings_filter_by_them() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;
    let pure = app
        .upload_wat(&token, bazaar_test_support::guests::SPIN)
        .await;
    let timed = app
        .upload_wat(
            &token,
            &bazaar_test_support::guests::slow_agent(std::time::Duration::from_millis(1)),
        )
        .await;

    let shown = expect_json(app.get_agent(&pure).await, StatusCode::OK).await;
    assert_eq!(shown["badges"], json!(["deterministic"]), "{shown}");
    let shown = expect_json(app.get_agent(&timed).await, StatusCode::OK).await;
    assert_eq!(shown["badges"], json!(["clock", "stdio"]), "{shown}");

    let deterministic = expect_json(
        app.list_agents(&[("owner", &user_id), ("badge", "deterministic")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(deterministic["total"], 1, "{deterministic}");
    assert_eq!(deterministic["agents"][0]["id"], pure.as_str());
    let with_clock = expect_json(
        app.list_agents(&[("owner", &user_id), ("badge", "clock")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(with_clock["total"], 1, "{with_clock}");
    assert_eq!(with_clock["agents"][0]["id"], timed.as_str());
    assert_error(
        app.list_agents(&[("badge", "quantum")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn an_agent_published_before_badges_existed_gets_them_at_the_next_start() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent = app
        .upload_wat(&token, bazaar_test_support::guests::SPIN)
        .await;
    // As the migration leaves an agent published before badges existed.
    let database = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(app.data_dir().join("bazaar.db"))
            .busy_timeout(std::time::Duration::from_secs(10)),
    )
    .await
    .expect("the app's database opens");
    sqlx::query("update agents set badges = null where id = $1")
        .bind(&agent)
        .execute(&database)
        .await
        .unwrap();
    database.close().await;
    let unanalysed = expect_json(app.get_agent(&agent).await, StatusCode::OK).await;
    assert!(unanalysed["badges"].is_null(), "{unanalysed}");

    let app = app.restart().await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let shown = expect_json(app.get_agent(&agent).await, StatusCode::OK).await;
        if shown["badges"] == json!(["deterministic"]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{shown}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.shutdown().await;
}
