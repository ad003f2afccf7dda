//! Uploading, reading and changing agents.

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::helpers::{
    assert_error, assert_timestamp, binary_part, echo_wasm, expect_json, metadata, metadata_part,
    spawn_app, spawn_app_with, string_field, wasm_from_wat,
};

fn sha256_hex(bytes: &[u8]) -> String {
    bazaar_domain::Sha256::digest(bytes).to_string()
}

/// How many agents `owner` has in the listing, whatever their status.
async fn owned_total(app: &crate::helpers::TestApp, owner: &str) -> u64 {
    let active = app
        .agent_total(&[("owner", owner), ("status", "active")])
        .await;
    let inactive = app
        .agent_total(&[("owner", owner), ("status", "inactive")])
        .await;
    active + inactive
}

#[tokio::test]
async fn uploading_an_agent_returns_it_with_its_hash_and_size() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;
    let wasm = echo_wasm();
    let metadata = json!({
        "name": "my echo",
        "description": "Says back what it hears.",
        "version": "0.3.1-beta.2+build.7",
        "capabilities": ["text", "echo_back", "t-2"],
        "price": 0.02,
    });

    let agent = app.upload_ok(&token, &metadata, wasm).await;

    assert!(string_field(&agent, "id").starts_with("agent_"), "{agent}");
    assert_eq!(agent["user_id"], user_id.as_str());
    assert_eq!(agent["name"], "my echo");
    assert_eq!(agent["description"], "Says back what it hears.");
    assert_eq!(agent["version"], "0.3.1-beta.2+build.7");
    assert_eq!(agent["capabilities"], json!(["text", "echo_back", "t-2"]));
    assert_eq!(agent["status"], "active");
    assert_eq!(agent["price"].as_f64(), Some(0.02), "{agent}");
    assert!(!string_field(&agent, "binary_url").is_empty());
    let hash = string_field(&agent, "binary_hash");
    assert_eq!(hash.len(), 64);
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(hash, sha256_hex(wasm));
    assert_eq!(agent["binary_size"].as_u64(), Some(wasm.len() as u64));
    assert_eq!(agent["tasks_completed"].as_u64(), Some(0));
    assert_eq!(agent["rating"].as_f64(), Some(0.0));
    assert_timestamp(&agent["created_at"], "created_at");
    assert_timestamp(&agent["updated_at"], "updated_at");

    // It is stored: the detail is the same agent, and it runs.
    let id = string_field(&agent, "id");
    let fetched = expect_json(app.get_agent(id).await, StatusCode::OK).await;
    assert_eq!(fetched, agent);
    let result = app.execute_ok(&token, id, "round trip").await;
    assert_eq!(result["stdout"], "round trip");
}

#[tokio::test]
async fn a_price_may_be_given_as_a_string() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let mut metadata = metadata("priced by string");
    metadata["price"] = json!("1.5");

    let agent = app.upload_ok(&token, &metadata, echo_wasm()).await;

    assert_eq!(agent["price"].as_f64(), Some(1.5), "{agent}");
}

#[tokio::test]
async fn an_upload_without_a_binary_or_metadata_part_is_a_bad_request() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;

    let only_metadata = Form::new().part("metadata", metadata_part(&metadata("a").to_string()));
    assert_error(
        app.upload_form(&token, only_metadata).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    let only_binary = Form::new().part("binary", binary_part(echo_wasm()));
    assert_error(
        app.upload_form(&token, only_binary).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    let empty = Form::new().text("unrelated", "value");
    assert_error(
        app.upload_form(&token, empty).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    assert_eq!(owned_total(&app, &user_id).await, 0);
}

#[tokio::test]
async fn an_upload_that_is_not_multipart_is_a_bad_request() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    let response = app
        .request(reqwest::Method::POST, "/api/v1/agents")
        .bearer_auth(&token)
        .json(&metadata("not multipart"))
        .send()
        .await
        .unwrap();

    // Without a multipart body there is neither part: the same answer as a missing part.
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn metadata_that_is_not_json_is_a_bad_request() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;

    for text in ["name=echo&version=1.0.0", "{\"name\": \"unterminated", ""] {
        let form = Form::new()
            .part("metadata", metadata_part(text))
            .part("binary", binary_part(echo_wasm()));
        assert_error(
            app.upload_form(&token, form).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    assert_eq!(owned_total(&app, &user_id).await, 0);
}

#[tokio::test]
async fn invalid_metadata_values_are_unprocessable_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;
    let seventeen: Vec<String> = (0..17).map(|index| format!("tag{index}")).collect();
    let invalid: Vec<(&str, Value)> = vec![
        ("name", json!("")),
        ("name", json!("n".repeat(65))),
        ("name", json!("slash/name")),
        ("version", json!("1.0")),
        ("version", json!("banana")),
        ("version", json!("01.0.0")),
        ("capabilities", json!(["Upper"])),
        ("capabilities", json!(["1starts_with_digit"])),
        ("capabilities", json!(["has space"])),
        ("capabilities", json!(["c".repeat(33)])),
        ("capabilities", json!(seventeen)),
        ("price", json!(-1)),
        ("price", json!("abc")),
        ("price", json!(0.001)),
    ];
    for (field, value) in invalid {
        let mut metadata = metadata("valid name");
        metadata[field] = value.clone();
        let message = assert_error(
            app.upload_agent(&token, &metadata, echo_wasm()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
        assert!(!message.is_empty(), "{field} = {value}");
    }
    assert_eq!(owned_total(&app, &user_id).await, 0);

    // Values at the limits are fine.
    let mut at_limits = metadata(&"n".repeat(64));
    at_limits["capabilities"] = json!(
        (0..16)
            .map(|index| format!("t{index}{}", "x".repeat(29)))
            .collect::<Vec<_>>()
    );
    at_limits["price"] = json!(0);
    app.upload_ok(&token, &at_limits, echo_wasm()).await;
    assert_eq!(owned_total(&app, &user_id).await, 1);
}

#[tokio::test]
async fn an_agent_that_is_not_webassembly_is_rejected_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;
    let total_before = app.agent_total(&[]).await;

    assert_error(
        app.upload_agent(&token, &metadata("shell script"), b"#!/bin/sh\necho hi\n")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;

    assert_eq!(app.agent_total(&[]).await, total_before);
    assert_eq!(owned_total(&app, &user_id).await, 0);
}

#[tokio::test]
async fn invalid_modules_are_rejected_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;
    let total_before = app.agent_total(&[]).await;
    let echo = echo_wasm();
    let modules = [
        ("empty", Vec::new()),
        ("truncated", echo[..echo.len() / 2].to_vec()),
        (
            "without _start",
            wasm_from_wat(
                r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#,
            ),
        ),
        (
            "with an unknown import",
            wasm_from_wat(
                r#"(module (import "env" "launch_missiles" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
            ),
        ),
        (
            "with an unknown WASI function",
            wasm_from_wat(
                r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
            ),
        ),
    ];
    for (what, wasm) in modules {
        let message = assert_error(
            app.upload_agent(&token, &metadata(&format!("module {what}")), &wasm)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
        assert!(!message.is_empty(), "{what}");
    }

    assert_eq!(app.agent_total(&[]).await, total_before);
    assert_eq!(owned_total(&app, &user_id).await, 0);
}

#[tokio::test]
async fn an_upload_larger_than_the_limit_is_rejected() {
    let limit = echo_wasm().len() + 16 * 1024;
    let app = spawn_app_with(|config| config.http.max_upload_bytes = limit).await;
    let (user_id, token) = app.register_user().await;

    // Under the limit (with the multipart overhead) is fine.
    app.upload_ok(&token, &metadata("small enough"), echo_wasm())
        .await;

    let mut too_big = echo_wasm().to_vec();
    too_big.resize(limit * 2, 0);
    assert_error(
        app.upload_agent(&token, &metadata("too big"), &too_big)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    assert_eq!(owned_total(&app, &user_id).await, 1);
}

#[tokio::test]
async fn uploading_the_same_name_and_version_twice_is_a_conflict() {
    let app = spawn_app().await;
    let (user_id, token) = app.register_user().await;
    let (_, other_token) = app.register_user().await;
    app.upload_ok(&token, &metadata("twice"), echo_wasm()).await;

    assert_error(
        app.upload_agent(&token, &metadata("twice"), echo_wasm())
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(owned_total(&app, &user_id).await, 1);

    // A new version is a new agent, and another owner may use the same name.
    let mut next_version = metadata("twice");
    next_version["version"] = json!("1.0.1");
    app.upload_ok(&token, &next_version, echo_wasm()).await;
    app.upload_ok(&other_token, &metadata("twice"), echo_wasm())
        .await;
    assert_eq!(owned_total(&app, &user_id).await, 2);
}

#[tokio::test]
async fn an_unknown_agent_is_not_found_and_a_malformed_id_is_a_bad_request() {
    let app = spawn_app().await;

    assert_error(
        app.get_agent("agent_00000000000000000000000000000000")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for malformed in ["not-an-agent", "user_0123", "agent_has%20space"] {
        assert_error(
            app.get_agent(malformed).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

#[tokio::test]
async fn the_owner_can_change_description_capabilities_price_and_status() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent = app
        .upload_ok(&token, &metadata("changing"), echo_wasm())
        .await;
    let id = string_field(&agent, "id");

    let changed = expect_json(
        app.patch_agent(
            &token,
            id,
            &json!({
                "description": "A better description.",
                "capabilities": ["text", "echo"],
                "price": "0.25",
                "status": "inactive",
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(changed["id"], id);
    assert_eq!(changed["description"], "A better description.");
    assert_eq!(changed["capabilities"], json!(["text", "echo"]));
    assert_eq!(changed["price"].as_f64(), Some(0.25));
    assert_eq!(changed["status"], "inactive");
    // What is not part of a change stays as it was.
    for unchanged in [
        "name",
        "version",
        "binary_hash",
        "binary_size",
        "user_id",
        "created_at",
    ] {
        assert_eq!(changed[unchanged], agent[unchanged], "{unchanged}");
    }
    assert_timestamp(&changed["updated_at"], "updated_at");
    assert!(
        string_field(&changed, "updated_at") >= string_field(&agent, "updated_at"),
        "updated_at went back in time: {changed}"
    );
    let fetched = expect_json(app.get_agent(id).await, StatusCode::OK).await;
    assert_eq!(fetched, changed);

    // A partial change touches only its field.
    let partial = expect_json(
        app.patch_agent(&token, id, &json!({"price": 0.5})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(partial["price"].as_f64(), Some(0.5));
    assert_eq!(partial["description"], "A better description.");
    assert_eq!(partial["status"], "inactive");
}

#[tokio::test]
async fn invalid_changes_are_unprocessable() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let agent = app
        .upload_ok(&token, &metadata("strict"), echo_wasm())
        .await;
    let id = string_field(&agent, "id");

    for changes in [
        json!({"status": "deleted"}),
        json!({"capabilities": ["NOT OK"]}),
        json!({"price": -3}),
    ] {
        assert_error(
            app.patch_agent(&token, id, &changes).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
    }
    let fetched = expect_json(app.get_agent(id).await, StatusCode::OK).await;
    assert_eq!(fetched, agent);
}

#[tokio::test]
async fn only_the_owner_may_change_an_agent() {
    let app = spawn_app().await;
    let (_, owner_token) = app.register_user().await;
    let (_, stranger_token) = app.register_user().await;
    let agent = app
        .upload_ok(&owner_token, &metadata("mine"), echo_wasm())
        .await;
    let id = string_field(&agent, "id");

    assert_error(
        app.patch_agent(&stranger_token, id, &json!({"description": "hijacked"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let fetched = expect_json(app.get_agent(id).await, StatusCode::OK).await;
    assert_eq!(fetched["description"], agent["description"]);

    // Nobody may change the seeded examples either.
    let echo = app.example_agent_id("echo").await;
    assert_error(
        app.patch_agent(&stranger_token, &echo, &json!({"status": "inactive"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn changing_an_unknown_agent_is_not_found() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;

    assert_error(
        app.patch_agent(
            &token,
            "agent_00000000000000000000000000000000",
            &json!({"price": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_inactive_agent_rejects_new_tasks_until_it_is_active_again() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let (_, user_token) = app.register_user().await;
    let id = app.upload_echo(&token).await;
    expect_json(
        app.patch_agent(&token, &id, &json!({"status": "inactive"}))
            .await,
        StatusCode::OK,
    )
    .await;

    let task = json!({"agent_id": id, "input": "anyone there?"});
    for caller in [&token, &user_token] {
        assert_error(
            app.execute(caller, &task).await,
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
        assert_error(
            app.submit(caller, &task).await,
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
    }

    expect_json(
        app.patch_agent(&token, &id, &json!({"status": "active"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let result = app.execute_ok(&user_token, &id, "anyone there?").await;
    assert_eq!(result["stdout"], "anyone there?");
}
