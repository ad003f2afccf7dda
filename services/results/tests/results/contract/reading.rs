use bazaar_domain::{AgentId, ResultStatus, TaskId, UserId};

use crate::clients::Client;
use crate::fixtures::{result_of, with_status};

pub async fn a_stored_result_is_got_by_its_owner_unchanged(backend: Client) {
    let owner = UserId::generate();
    let mut result = with_status(
        result_of(&AgentId::generate(), &owner, 7),
        ResultStatus::TimedOut,
    );
    result.stdout = vec![0, 159, 146, 150, b'\n'];
    result.stderr = b"partial\n".to_vec();
    result.stdout_truncated = true;
    result.duration_ms = 1234;
    backend.results.store(std::slice::from_ref(&result)).await;

    let got = backend.client.get(&result.task_id, &owner).await.unwrap();

    assert_eq!(got, Some(result));
}

pub async fn a_result_is_not_got_by_another_user(backend: Client) {
    let owner = UserId::generate();
    let result = result_of(&AgentId::generate(), &owner, 1);
    backend.results.store(std::slice::from_ref(&result)).await;

    let got = backend
        .client
        .get(&result.task_id, &UserId::generate())
        .await
        .unwrap();

    assert_eq!(got, None, "another user's result must look like no result");
    assert!(
        backend
            .client
            .get(&result.task_id, &owner)
            .await
            .unwrap()
            .is_some(),
        "the owner still gets it"
    );
}

pub async fn an_unknown_task_has_no_result(backend: Client) {
    let got = backend
        .client
        .get(&TaskId::generate(), &UserId::generate())
        .await
        .unwrap();

    assert_eq!(got, None);
}
