//! Accounts and bearer tokens.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    assert_error, assert_timestamp, expect_json, spawn_app, string_field, unique_suffix,
};

#[tokio::test]
async fn registering_a_new_user_returns_its_id_and_a_token() {
    let app = spawn_app().await;
    let username = format!("alice_{}", unique_suffix());

    let body = expect_json(
        app.register(&username, "a long enough password").await,
        StatusCode::CREATED,
    )
    .await;

    assert!(
        string_field(&body, "user_id").starts_with("user_"),
        "{body}"
    );
    assert_eq!(body["username"], username.as_str());
    assert!(!string_field(&body, "token").is_empty(), "{body}");
    // The token works straight away.
    let token = string_field(&body, "token");
    expect_json(app.list_results(token, &[]).await, StatusCode::OK).await;
}

#[tokio::test]
async fn usernames_and_passwords_at_the_limits_are_accepted() {
    let app = spawn_app().await;
    let shortest = "a.b";
    let longest = format!("{:_<32}", format!("L-{}", unique_suffix()));
    assert_eq!(longest.len(), 32);

    expect_json(
        app.register(shortest, &"p".repeat(8)).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.register(&longest, &"p".repeat(256)).await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn usernames_and_passwords_out_of_bounds_are_unprocessable() {
    let app = spawn_app().await;
    let good_password = "a long enough password";
    let bad_usernames = [
        "".to_owned(),
        "ab".to_owned(),
        "x".repeat(33),
        "has space".to_owned(),
        "slash/inside".to_owned(),
        "émile".to_owned(),
    ];
    for username in &bad_usernames {
        let message = assert_error(
            app.register(username, good_password).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
        assert!(!message.is_empty(), "username {username:?}");
    }
    for password in ["".to_owned(), "1234567".to_owned(), "p".repeat(257)] {
        assert_error(
            app.register(&format!("bob_{}", unique_suffix()), &password)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
    }
}

#[tokio::test]
async fn a_malformed_json_body_is_a_bad_request() {
    let app = spawn_app().await;

    let response = app
        .request(Method::POST, "/api/v1/auth/register")
        .header("content-type", "application/json")
        .body(r#"{"username": "carol", "password": "#)
        .send()
        .await
        .unwrap();

    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    // Nothing was created: the name is still free.
    expect_json(
        app.register("carol", "a long enough password").await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn a_taken_username_is_a_conflict() {
    let app = spawn_app().await;
    let username = format!("dave_{}", unique_suffix());
    expect_json(
        app.register(&username, "first password").await,
        StatusCode::CREATED,
    )
    .await;

    assert_error(
        app.register(&username, "second password").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    // The first password still works, the second does not.
    expect_json(app.login(&username, "first password").await, StatusCode::OK).await;
    assert_error(
        app.login(&username, "second password").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn logging_in_with_the_right_password_returns_a_working_token() {
    let app = spawn_app().await;
    let username = format!("erin_{}", unique_suffix());
    let registered = expect_json(
        app.register(&username, "erin's password").await,
        StatusCode::CREATED,
    )
    .await;

    let login = expect_json(
        app.login(&username, "erin's password").await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(login["user_id"], registered["user_id"]);
    assert_timestamp(&login["expires_at"], "expires_at");
    let token = string_field(&login, "token");
    assert!(!token.is_empty());
    expect_json(app.list_results(token, &[]).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_unauthorized_answer() {
    let app = spawn_app().await;
    let username = format!("frank_{}", unique_suffix());
    expect_json(
        app.register(&username, "frank's password").await,
        StatusCode::CREATED,
    )
    .await;

    let wrong_password = assert_error(
        app.login(&username, "not frank's password").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let unknown_user = assert_error(
        app.login(&format!("nobody_{}", unique_suffix()), "frank's password")
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    assert_eq!(
        wrong_password, unknown_user,
        "the answers must not tell users apart"
    );
}

#[tokio::test]
async fn logging_out_revokes_the_token() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    expect_json(app.list_results(&token, &[]).await, StatusCode::OK).await;

    let response = app.logout(&token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_error(
        app.list_results(&token, &[]).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.logout(&token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn protected_endpoints_reject_a_missing_or_invalid_bearer_token() {
    let app = spawn_app().await;
    let (_, token) = app.register_user().await;
    let echo = app.example_agent_id("echo").await;
    let submitted = expect_json(
        app.submit(&token, &json!({"agent_id": echo, "input": "hi"}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let task_id = string_field(&submitted, "task_id");

    let endpoints = [
        (Method::POST, "/api/v1/auth/logout".to_owned()),
        (Method::POST, "/api/v1/agents".to_owned()),
        (Method::PATCH, format!("/api/v1/agents/{echo}")),
        (Method::POST, "/api/v1/tasks/execute".to_owned()),
        (Method::POST, "/api/v1/tasks".to_owned()),
        (Method::GET, format!("/api/v1/tasks/{task_id}")),
        (Method::GET, format!("/api/v1/tasks/{task_id}/results")),
        (Method::GET, "/api/v1/tasks/results".to_owned()),
    ];
    let credentials = [
        None,
        Some("Bearer not-a-real-token".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Basic {token}")),
        Some(token.clone()),
    ];
    for (method, path) in &endpoints {
        for authorization in &credentials {
            let mut request = app.request(method.clone(), path);
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            if *method != Method::GET {
                request = request.json(&json!({"agent_id": echo, "input": "hi"}));
            }
            let response = request.send().await.unwrap();
            let message = assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
            assert!(
                !message.is_empty(),
                "{method} {path} with {authorization:?}"
            );
        }
    }
}
