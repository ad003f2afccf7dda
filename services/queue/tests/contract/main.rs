//! The contract every queue backend keeps.
//!
//! Services hold `Arc<dyn TaskQueue>` and never know which backend they got, so each backend
//! must behave alike: at-least-once delivery, redelivery with a count, a delivery limit, and
//! a clean close. The tests are written once, against the trait only, as
//! `async fn(QueueBackend)` in the modules below; `queue_contract_tests!` turns each of them
//! into one `#[test]` per backend. Where the backends differ by design (what becomes of a
//! task given up), the backend says which promise it keeps and the test holds it to that.
//! Adding a backend takes one constructor in `backends` and one macro line at the bottom of
//! this file. What only RabbitMQ promises (the wire format, reconnection, the broker's
//! refusals) is tested beside the contract, in `rabbitmq_broker`.
//!
//! The RabbitMQ backend finds its broker from the environment (see `backends`); without one
//! it skips loudly, except under `CI`, where it fails.

mod backends;
mod fixtures;

mod competing;
mod lifecycle;
mod messages;
mod proxy;
mod rabbitmq_broker;
mod settling;
mod signals;

use bazaar_test_support::contract_tests;

/// Declares, inside `mod $backend`, one test per contract test below, each run against a
/// fresh queue from `$constructor`, named like
/// `rabbitmq::settling::an_acknowledged_task_is_not_delivered_again`.
macro_rules! queue_contract_tests {
    ($backend:ident, $constructor:path) => {
        contract_tests!($backend, $constructor, {
            messages {
                a_published_task_is_consumed_intact_with_its_trace_context,
                a_published_result_is_consumed_intact_with_its_trace_context,
                a_task_does_not_reach_the_results_consumer,
                a_result_does_not_reach_the_task_consumer,
            }
            settling {
                an_acknowledged_task_is_not_delivered_again,
                an_acknowledged_result_is_not_delivered_again,
                a_task_rejected_with_requeue_comes_back_with_its_count_raised,
                a_task_dropped_unsettled_comes_back_with_its_count_raised,
                a_task_rejected_at_every_delivery_is_given_up_at_the_delivery_limit,
                a_task_dropped_at_every_delivery_is_given_up_at_the_delivery_limit,
                a_task_rejected_without_requeue_is_given_up_at_once,
                a_result_rejected_at_every_delivery_stops_at_the_delivery_limit,
            }
            competing {
                tasks_published_concurrently_reach_competing_consumers_exactly_once,
            }
            signals {
                a_start_and_a_result_travel_the_results_queue_intact_and_in_order,
                a_cancellation_reaches_every_worker_and_no_follower,
                a_tasks_start_and_output_reach_its_followers_only_in_order,
                a_signal_nobody_listens_for_is_sent_without_error,
            }
            lifecycle {
                a_fresh_queue_passes_its_check,
                a_closed_queue_refuses_publishes_ends_its_consumers_and_fails_its_check,
                a_closed_queue_hands_out_nothing_more_though_tasks_wait,
            }
        });
    };
}

queue_contract_tests!(in_process, crate::backends::in_process);
queue_contract_tests!(rabbitmq, crate::backends::rabbitmq);
