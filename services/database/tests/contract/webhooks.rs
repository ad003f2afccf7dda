//! `WebhookStore`: users' secrets, and the outbox the database fills from stored results
//! and recorded starts.

use bazaar_database::AttemptConsequence;
use bazaar_domain::{
    DeliveryStatus, ResultStatus, Task, TaskId, TaskResult, TaskStarted, WebhookAttempt,
    WebhookEvent, WebhookSecret, WebhookSubscription,
};

use crate::backends::Backend;
use crate::fixtures::{at, create_user};
use crate::tasks::new_task;

/// A task like `base` (same owner and agent) with a webhook for `events`, recorded.
async fn task_with_webhook(backend: &Backend, base: &Task, events: &[&str]) -> Task {
    let events: Vec<String> = events.iter().map(|event| (*event).to_owned()).collect();
    let task = Task {
        id: TaskId::generate(),
        webhook: Some(WebhookSubscription::parse("https://example.com/hook", &events).unwrap()),
        ..base.clone()
    };
    backend.tasks.insert_task(&task).await.unwrap();
    task
}

fn result_for(task: &Task, seconds: i64) -> TaskResult {
    TaskResult {
        task_id: task.id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        status: ResultStatus::Failed,
        exit_code: 3,
        stdout: Vec::new(),
        stderr: b"oops".to_vec(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 5,
        error: None,
        created_at: at(seconds),
    }
}

fn start_of(task: &Task, attempt: u32, seconds: i64) -> TaskStarted {
    TaskStarted {
        task_id: task.id.clone(),
        agent_id: task.agent_id.clone(),
        owner: task.owner.clone(),
        attempt,
        started_at: at(seconds),
    }
}

fn attempt(number: u32, seconds: i64, status_code: Option<u16>) -> WebhookAttempt {
    WebhookAttempt {
        attempt: number,
        at: at(seconds),
        status_code,
        error: status_code
            .filter(|code| *code >= 300)
            .map(|code| format!("the receiver answered {code}")),
        duration_ms: 12,
    }
}

pub async fn a_stored_result_queues_a_completed_message_for_a_task_that_wants_it(backend: Backend) {
    let base = new_task(&backend).await;
    let wanted = task_with_webhook(&backend, &base, &["completed"]).await;
    let only_running = task_with_webhook(&backend, &base, &["running"]).await;
    let without = Task {
        id: TaskId::generate(),
        ..base.clone()
    };
    backend.tasks.insert_task(&without).await.unwrap();

    let results = [
        result_for(&wanted, 100),
        result_for(&only_running, 100),
        result_for(&without, 100),
    ];
    backend.results.insert_results(&results).await.unwrap();
    // A result stored again is no new event.
    backend.results.insert_results(&results[..1]).await.unwrap();

    let deliveries = backend
        .webhooks
        .task_webhook_deliveries(&wanted.id)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let (delivery, attempts) = &deliveries[0];
    assert!(delivery.id.starts_with("msg_"), "{}", delivery.id);
    assert_eq!(delivery.event, WebhookEvent::Completed);
    assert_eq!(delivery.url, "https://example.com/hook");
    assert_eq!(delivery.owner, wanted.owner);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.occurred_at, at(100));
    assert_eq!(delivery.attempts, 0);
    assert!(attempts.is_empty());
    for other in [&only_running, &without] {
        let none = backend
            .webhooks
            .task_webhook_deliveries(&other.id)
            .await
            .unwrap();
        assert!(none.is_empty(), "{none:?}");
    }
}

pub async fn each_started_attempt_queues_one_running_message(backend: Backend) {
    let base = new_task(&backend).await;
    let task = task_with_webhook(&backend, &base, &["running", "completed"]).await;

    backend
        .results
        .record_starts(&[start_of(&task, 1, 10)])
        .await
        .unwrap();
    // Repeated and late announcements are no new attempt.
    backend
        .results
        .record_starts(&[start_of(&task, 1, 10)])
        .await
        .unwrap();
    backend
        .results
        .record_starts(&[start_of(&task, 2, 20)])
        .await
        .unwrap();
    backend
        .results
        .record_starts(&[start_of(&task, 1, 10)])
        .await
        .unwrap();

    let deliveries = backend
        .webhooks
        .task_webhook_deliveries(&task.id)
        .await
        .unwrap();
    let running: Vec<(Option<u32>, i64)> = deliveries
        .iter()
        .map(|(delivery, _)| {
            assert_eq!(delivery.event, WebhookEvent::Running);
            (delivery.run_attempt, delivery.occurred_at.timestamp())
        })
        .collect();
    assert_eq!(
        running,
        [(Some(1), at(10).timestamp()), (Some(2), at(20).timestamp())]
    );
}

pub async fn a_claimed_message_is_not_claimed_again_until_its_lease_ends(backend: Backend) {
    let base = new_task(&backend).await;
    let task = task_with_webhook(&backend, &base, &["completed"]).await;
    backend
        .results
        .insert_results(&[result_for(&task, 100)])
        .await
        .unwrap();

    let early = backend
        .webhooks
        .claim_webhook_deliveries(at(99), at(200), 10)
        .await
        .unwrap();
    assert!(early.is_empty(), "not due before it happened: {early:?}");
    let claimed = backend
        .webhooks
        .claim_webhook_deliveries(at(101), at(200), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].task_id, task.id);
    let during_lease = backend
        .webhooks
        .claim_webhook_deliveries(at(150), at(300), 10)
        .await
        .unwrap();
    assert!(during_lease.is_empty(), "{during_lease:?}");
    let after_lease = backend
        .webhooks
        .claim_webhook_deliveries(at(201), at(300), 10)
        .await
        .unwrap();
    assert_eq!(after_lease.len(), 1);
    assert_eq!(after_lease[0].id, claimed[0].id);
}

pub async fn attempts_are_logged_and_decide_what_follows(backend: Backend) {
    let base = new_task(&backend).await;
    let task = task_with_webhook(&backend, &base, &["completed"]).await;
    backend
        .results
        .insert_results(&[result_for(&task, 100)])
        .await
        .unwrap();
    let claimed = backend
        .webhooks
        .claim_webhook_deliveries(at(101), at(200), 10)
        .await
        .unwrap();
    let id = &claimed[0].id;

    backend
        .webhooks
        .record_webhook_attempt(
            id,
            Some("{\"first\":true}"),
            &attempt(1, 101, Some(500)),
            AttemptConsequence::RetryAt(at(160)),
        )
        .await
        .unwrap();
    let not_yet = backend
        .webhooks
        .claim_webhook_deliveries(at(159), at(300), 10)
        .await
        .unwrap();
    assert!(not_yet.is_empty(), "{not_yet:?}");
    let retried = backend
        .webhooks
        .claim_webhook_deliveries(at(161), at(300), 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].payload.as_deref(), Some("{\"first\":true}"));
    backend
        .webhooks
        .record_webhook_attempt(
            id,
            Some("{\"second\":true}"),
            &attempt(2, 161, Some(204)),
            AttemptConsequence::Delivered,
        )
        .await
        .unwrap();

    let deliveries = backend
        .webhooks
        .task_webhook_deliveries(&task.id)
        .await
        .unwrap();
    let (delivery, attempts) = &deliveries[0];
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts, 2);
    assert_eq!(delivery.delivered_at, Some(at(161)));
    assert_eq!(delivery.last_status_code, Some(204));
    assert_eq!(
        delivery.payload.as_deref(),
        Some("{\"first\":true}"),
        "the first body stays"
    );
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0], attempt(1, 101, Some(500)));
    assert_eq!(attempts[1], attempt(2, 161, Some(204)));
    let finished = backend
        .webhooks
        .claim_webhook_deliveries(at(10_000), at(20_000), 10)
        .await
        .unwrap();
    assert!(
        finished.is_empty(),
        "a delivered message is never claimed: {finished:?}"
    );
}

pub async fn a_given_up_message_is_failed_and_never_claimed_again(backend: Backend) {
    let base = new_task(&backend).await;
    let task = task_with_webhook(&backend, &base, &["completed"]).await;
    backend
        .results
        .insert_results(&[result_for(&task, 100)])
        .await
        .unwrap();
    let claimed = backend
        .webhooks
        .claim_webhook_deliveries(at(101), at(200), 10)
        .await
        .unwrap();

    backend
        .webhooks
        .record_webhook_attempt(
            &claimed[0].id,
            None,
            &attempt(1, 101, Some(410)),
            AttemptConsequence::GiveUp,
        )
        .await
        .unwrap();

    let deliveries = backend
        .webhooks
        .task_webhook_deliveries(&task.id)
        .await
        .unwrap();
    assert_eq!(deliveries[0].0.status, DeliveryStatus::Failed);
    assert_eq!(deliveries[0].0.payload, None);
    let again = backend
        .webhooks
        .claim_webhook_deliveries(at(10_000), at(20_000), 10)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
}

pub async fn a_secret_is_created_once_and_replaced_on_rotation(backend: Backend) {
    let owner = create_user(&backend, "ada").await;
    assert_eq!(backend.webhooks.webhook_secret(&owner).await.unwrap(), None);
    let first = WebhookSecret {
        secret: "whsec_Zmlyc3Q=".to_owned(),
        created_at: at(1),
    };
    let second = WebhookSecret {
        secret: "whsec_c2Vjb25k".to_owned(),
        created_at: at(2),
    };

    let created = backend
        .webhooks
        .create_webhook_secret(&owner, &first)
        .await
        .unwrap();
    let kept = backend
        .webhooks
        .create_webhook_secret(&owner, &second)
        .await
        .unwrap();
    assert_eq!(created, first);
    assert_eq!(kept, first, "a second creation keeps the first secret");

    backend
        .webhooks
        .replace_webhook_secret(&owner, &second)
        .await
        .unwrap();
    assert_eq!(
        backend.webhooks.webhook_secret(&owner).await.unwrap(),
        Some(second)
    );
}

pub async fn old_finished_logs_are_deleted_and_pending_messages_kept(backend: Backend) {
    let base = new_task(&backend).await;
    let finished = task_with_webhook(&backend, &base, &["completed"]).await;
    let pending = task_with_webhook(&backend, &base, &["completed"]).await;
    let recent = task_with_webhook(&backend, &base, &["completed"]).await;
    backend
        .results
        .insert_results(&[
            result_for(&finished, 100),
            result_for(&pending, 100),
            result_for(&recent, 1_000),
        ])
        .await
        .unwrap();
    let claimed = backend
        .webhooks
        .claim_webhook_deliveries(at(2_000), at(3_000), 10)
        .await
        .unwrap();
    for delivery in &claimed {
        if delivery.task_id != pending.id {
            backend
                .webhooks
                .record_webhook_attempt(
                    &delivery.id,
                    Some("{}"),
                    &attempt(1, 2_000, Some(200)),
                    AttemptConsequence::Delivered,
                )
                .await
                .unwrap();
        }
    }

    let deleted = backend
        .webhooks
        .delete_webhook_logs_before(at(500))
        .await
        .unwrap();

    assert_eq!(deleted, 1);
    let logged = |task: &Task| task.id.clone();
    let webhooks = &backend.webhooks;
    assert!(
        webhooks
            .task_webhook_deliveries(&logged(&finished))
            .await
            .unwrap()
            .is_empty()
    );
    for kept in [&pending, &recent] {
        let log = webhooks
            .task_webhook_deliveries(&logged(kept))
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
    }
}
