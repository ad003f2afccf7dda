//! Reviews through the API: who may review, one review per user, the rating it makes, and
//! listings sorted and filtered by it.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_error, expect_json, spawn_app, string_field};

/// A user who has run `agent` successfully once; returns their token.
async fn a_customer(app: &TestApp, agent: &str) -> String {
    let (_, token) = app.register_user().await;
    let run = app.execute_ok(&token, agent, "hello").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    token
}

#[tokio::test]
async fn customers_review_an_agent_and_its_rating_is_their_mean() {
    let app = spawn_app().await;
    let (_, author) = app.register_user().await;
    let agent = app.upload_echo(&author).await;
    let ada = a_customer(&app, &agent).await;
    let bob = a_customer(&app, &agent).await;

    let first = expect_json(
        app.post_review(
            &ada,
            &agent,
            &json!({"rating": 5, "text": "does what it says"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["rating"], 5);
    assert_eq!(first["text"], "does what it says");
    assert_eq!(first["agent_id"], agent.as_str());
    expect_json(
        app.post_review(&bob, &agent, &json!({"rating": 2})).await,
        StatusCode::CREATED,
    )
    .await;
    let rated = expect_json(app.get_agent(&agent).await, StatusCode::OK).await;
    assert_eq!(
        (rated["rating"].as_f64(), &rated["rating_count"]),
        (Some(3.5), &json!(2))
    );

    // Posting again replaces: still two reviews, a new mean.
    let replaced = expect_json(
        app.post_review(&bob, &agent, &json!({"rating": 4, "text": "better now"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["rating"], 4);
    assert_ne!(replaced["created_at"], replaced["updated_at"]);
    let rated = expect_json(app.get_agent(&agent).await, StatusCode::OK).await;
    assert_eq!(
        (rated["rating"].as_f64(), &rated["rating_count"]),
        (Some(4.5), &json!(2))
    );

    let page = expect_json(app.reviews(&agent, &[("limit", "1")]).await, StatusCode::OK).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["limit"], 1);
    let reviews = page["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["text"], "better now", "the newest first: {page}");
    assert!(!string_field(&reviews[0], "username").is_empty());
    let rest = expect_json(
        app.reviews(&agent, &[("limit", "1"), ("offset", "1")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["reviews"][0]["text"], "does what it says");
    app.shutdown().await;
}

#[tokio::test]
async fn only_customers_who_are_not_the_author_may_review() {
    let app = spawn_app().await;
    let (_, author) = app.register_user().await;
    let agent = app.upload_echo(&author).await;
    let (_, stranger) = app.register_user().await;

    app.execute_ok(&author, &agent, "mine").await;
    let message = assert_error(
        app.post_review(&author, &agent, &json!({"rating": 5}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(message.contains("author"), "{message}");
    let message = assert_error(
        app.post_review(&stranger, &agent, &json!({"rating": 5}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(message.contains("succeeded"), "{message}");
    assert_error(
        app.post_review("not-a-token", &agent, &json!({"rating": 5}))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let rated = expect_json(app.get_agent(&agent).await, StatusCode::OK).await;
    assert_eq!(rated["rating_count"], 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_review_out_of_bounds_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, author) = app.register_user().await;
    let agent = app.upload_echo(&author).await;
    let ada = a_customer(&app, &agent).await;

    for body in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": -1}),
        json!({"rating": 3, "text": "x".repeat(2001)}),
    ] {
        assert_error(
            app.post_review(&ada, &agent, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        )
        .await;
    }
    assert_error(
        app.post_review(&ada, &agent, &json!({"rating": "five"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;
    // 2,000 characters, not bytes: a text of 2,000 multi-byte characters is fine.
    expect_json(
        app.post_review(
            &ada,
            &agent,
            &json!({"rating": 3, "text": "é".repeat(2000)}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_error(
        app.post_review(
            &ada,
            "agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f",
            &json!({"rating": 3}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.reviews("agent_0192f0c1a2b34c5d8e9f0a1b2c3d4e5f", &[])
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.reviews(&agent, &[("limit", "0")]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn listings_sort_and_filter_by_rating() {
    let app = spawn_app().await;
    let (_, author) = app.register_user().await;
    let good = app.upload_echo(&author).await;
    let poor = app.upload_echo(&author).await;
    let customer = a_customer(&app, &good).await;
    app.execute_ok(&customer, &poor, "hi").await;
    for (agent, rating) in [(&good, 5), (&poor, 1)] {
        expect_json(
            app.post_review(&customer, agent, &json!({ "rating": rating }))
                .await,
            StatusCode::CREATED,
        )
        .await;
    }

    let well_rated = expect_json(
        app.list_agents(&[("min_rating", "4.5")]).await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = well_rated["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|agent| string_field(agent, "id"))
        .collect();
    assert_eq!(ids, [good.as_str()], "{well_rated}");
    let by_rating = expect_json(
        app.list_agents(&[("sort", "rating"), ("limit", "2")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_rating["agents"][0]["id"], good.as_str(), "{by_rating}");
    app.shutdown().await;
}
