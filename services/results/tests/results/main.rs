//! The results service from the outside, on real stores and the real in-process queue.
//!
//! Two suites, each written once and expanded per backend by a macro, and a few tests that
//! belong to one backend alone:
//!
//! - `service/`: the service's own promises (batching, idempotency, waking, recovery,
//!   draining), run on every store: `sqlite::batching::…`, `postgres::batching::…`.
//! - `contract/`: what the gateway may rely on from a [`bazaar_results::ResultsClient`],
//!   run against every client: `in_process::waiting::…`, `grpc::waiting::…`.
//! - `replicas` (PostgreSQL only) and `grpc_client` (the network only).
//!
//! PostgreSQL is found as the storage contract suite finds it; without a server its tests
//! skip loudly, except under `CI`, where they fail (see `stores`).

mod clients;
mod contract;
mod fixtures;
mod grpc_client;
mod replicas;
mod service;
mod stores;

/// The expansion: `mod $backend { mod $module { #[tokio::test] async fn $test } }`, each
/// test calling `crate::$suite::$module::$test` with a fresh backend from `$constructor`
/// (`None`: the backend's server is not there, and its constructor has said so).
macro_rules! tests_per_backend {
    ($backend:ident, $constructor:path, $suite:ident, { $($module:ident { $($test:ident),* $(,)? })* }) => {
        mod $backend {
            $(
                mod $module {
                    $(
                        // Several threads, as in production, so that concurrent calls race.
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $test() {
                            if let Some(backend) = $constructor().await {
                                crate::$suite::$module::$test(backend).await;
                            }
                        }
                    )*
                }
            )*
        }
    };
}

/// Declares, inside `mod $backend`, one test per case of the results service suite, each on
/// a fresh store from `$constructor`.
macro_rules! results_service_tests {
    ($backend:ident, $constructor:path) => {
        tests_per_backend!($backend, $constructor, service, {
            batching {
                results_waiting_in_the_queue_are_stored_in_batches_of_at_most_max_batch,
                a_burst_of_results_is_stored_and_counted_in_full,
            }
            idempotency {
                a_result_delivered_twice_in_one_batch_is_stored_and_counted_once,
                a_result_delivered_again_later_keeps_the_first_and_is_counted_once,
            }
            canceling {
                a_task_not_started_is_canceled_at_once_and_every_worker_is_told,
                a_canceled_task_whose_start_is_announced_later_is_canceled_again,
                a_finished_task_stays_as_it_finished,
                a_running_tasks_cancellation_is_signalled_again_until_it_ends,
            }
            waking {
                a_wait_registered_before_the_task_was_queued_receives_its_result,
                every_waiter_of_a_task_is_woken,
            }
            recovery {
                a_result_that_failed_to_store_is_stored_once_the_store_is_back,
            }
            shutdown {
                results_already_queued_are_stored_before_the_service_stops,
            }
            given_up {
                a_task_the_queue_gave_up_on_is_stored_as_a_failed_result,
            }
        });
    };
}

/// Declares, inside `mod $backend`, one test per case of the results client contract, each
/// against a fresh client from `$constructor`.
macro_rules! results_client_contract {
    ($backend:ident, $constructor:path) => {
        tests_per_backend!($backend, $constructor, contract, {
            reading {
                a_stored_result_is_got_by_its_owner_unchanged,
                a_result_is_not_got_by_another_user,
                an_unknown_task_has_no_result,
            }
            listing {
                a_listing_shows_only_the_owners_results_newest_first,
                a_user_without_results_lists_none,
                a_listing_filters_by_agent,
                a_listing_filters_by_status,
                a_listing_filters_by_agent_and_status_together,
                a_listing_page_holds_limit_results_from_offset_and_the_total_of_all_matches,
            }
            waiting {
                a_wait_for_a_stored_result_returns_it_at_once,
                a_wait_returns_a_result_stored_while_it_waits,
                a_wait_for_a_result_that_never_comes_is_none_after_its_timeout,
                a_wait_for_another_users_stored_result_is_none,
                a_wait_for_another_users_result_is_none_when_it_arrives,
            }
            statistics {
                an_agent_without_results_has_empty_statistics,
                statistics_count_stored_results_by_status_with_their_durations,
            }
            failures {
                a_store_that_fails_is_an_internal_error_on_every_call,
                statistics_of_a_store_that_fails_are_an_internal_error,
            }
        });
    };
}

results_service_tests!(sqlite, crate::stores::sqlite);
results_service_tests!(postgres, crate::stores::postgres);

results_client_contract!(in_process, crate::clients::in_process);
results_client_contract!(grpc, crate::clients::grpc);
