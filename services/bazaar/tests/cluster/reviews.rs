//! Reviews in distributed mode: the gateway checks the reviewer's succeeded task through the
//! results service and rates the agent in PostgreSQL.

use serde_json::json;

use crate::harness::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reviews_an_agent_and_the_marketplace_shows_its_rating() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let token = cluster.register("ada").await;
    let agent = cluster.example_agent("echo").await;

    let (status, refused) = cluster
        .post(
            &format!("/agents/{agent}/reviews"),
            &token,
            json!({"rating": 5}),
        )
        .await;
    assert_eq!(status, 403, "no succeeded task yet: {refused}");

    let (status, run) = cluster
        .post(
            "/tasks/execute",
            &token,
            json!({"agent_id": agent, "input": "hi"}),
        )
        .await;
    assert_eq!(
        (status, &run["status"]),
        (200, &json!("succeeded")),
        "{run}"
    );
    let (status, review) = cluster
        .post(
            &format!("/agents/{agent}/reviews"),
            &token,
            json!({"rating": 4, "text": "echoes"}),
        )
        .await;
    assert_eq!(status, 201, "{review}");

    let (_, shown) = cluster.get(&format!("/agents/{agent}"), None).await;
    assert_eq!(shown["rating"].as_f64(), Some(4.0), "{shown}");
    assert_eq!(shown["rating_count"], 1, "{shown}");
    let (_, listed) = cluster.get(&format!("/agents/{agent}/reviews"), None).await;
    assert_eq!(listed["total"], 1, "{listed}");
    let username = listed["reviews"][0]["username"]
        .as_str()
        .unwrap_or_default();
    assert!(username.starts_with("ada"), "{listed}");
    let (_, rated) = cluster.get("/agents?min_rating=4", None).await;
    assert_eq!(rated["total"], 1, "{rated}");
    cluster.stop().await;
}
