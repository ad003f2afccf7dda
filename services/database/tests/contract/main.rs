//! The contract every database backend keeps.
//!
//! Services hold `Arc<dyn AccountStore>`, `Arc<dyn ResultStore>` and the like and never know
//! which backend they got, so each backend must behave exactly alike. The tests here are
//! written once, against the traits only, as `async fn(Backend)` in the modules below;
//! `store_contract_tests!` turns each of them into one `#[test]` per backend. Adding a backend takes one constructor in `backends` and one macro line at
//! the bottom of this file.
//!
//! Backends that need a server (PostgreSQL) find it from the environment; see
//! `backends`.
//! Without one they skip loudly, except under `CI`, where they fail.

mod backends;
mod fixtures;

mod accounts;
mod agents;
mod health;
mod listing;
mod results;
mod retention;
mod reviews;
mod runs;
mod search;
mod tasks;
mod webhooks;

use bazaar_test_support::contract_tests;

/// Declares, inside `mod $backend`, one test per contract test below, each run against a
/// fresh store from `$constructor`, named like
/// `sqlite::search::every_word_of_the_query_must_match`.
macro_rules! store_contract_tests {
    ($backend:ident, $constructor:path) => {
        contract_tests!($backend, $constructor, {
            accounts {
                a_created_user_is_found_by_username_with_its_password_hash,
                an_unknown_username_has_no_credentials,
                a_taken_username_is_a_conflict_and_keeps_the_first_user,
                a_token_leads_to_the_user_it_was_created_for,
                an_unknown_token_leads_to_no_user,
                an_expired_token_leads_to_no_user,
                a_revoked_token_leads_to_no_user_but_other_tokens_still_work,
                revoking_an_unknown_token_is_not_an_error,
            }
            agents {
                an_inserted_agent_is_returned_as_stored_active_and_without_tasks,
                an_inserted_agent_reads_back_as_it_was_returned,
                an_unknown_agent_is_none,
                publishing_the_same_name_and_version_twice_is_a_conflict,
                a_new_version_of_the_same_name_is_not_a_conflict,
                another_owner_may_publish_the_same_name_and_version,
                agents_of_every_status_are_counted,
                updating_the_description_changes_only_the_description,
                updating_the_capabilities_changes_only_the_capabilities,
                updating_the_price_changes_only_the_price,
                updating_the_status_changes_only_the_status,
                updating_every_field_at_once_changes_them_all,
                an_update_without_changes_leaves_the_agent_as_it_was,
                an_inactive_agent_can_be_made_active_again,
                updating_an_unknown_agent_is_none_and_changes_nothing,
            }
            listing {
                listing_filters_by_exact_capability,
                listing_filters_by_minimum_price_inclusively,
                listing_filters_by_maximum_price_inclusively,
                listing_filters_by_a_price_range,
                listing_filters_by_minimum_rating_inclusively,
                listing_filters_by_status,
                listing_filters_by_owner,
                listing_applies_every_filter_together,
                listing_shows_the_newest_first_by_default,
                listing_by_oldest_shows_the_first_published_first,
                listing_by_name_goes_from_a_to_z_ignoring_case,
                listing_by_price_ascending_shows_the_cheapest_first,
                listing_by_price_descending_shows_the_dearest_first,
                listing_by_rating_shows_the_best_rated_first,
                listing_by_popularity_shows_the_most_used_first,
                a_listing_page_holds_limit_agents_from_offset_and_the_total_of_all_matches,
                the_total_of_a_filtered_listing_counts_only_the_matches,
                listing_filters_by_badge_and_agents_keep_their_badges,
            }
            search {
                a_word_prefix_finds_the_agent,
                search_ignores_case,
                search_matches_names_descriptions_and_capabilities,
                every_word_of_the_query_must_match,
                a_name_match_ranks_above_a_description_only_match,
                inactive_agents_are_not_found_until_active_again,
                query_syntax_and_punctuation_are_taken_as_plain_words,
                a_query_without_words_finds_nothing,
                an_updated_description_is_searchable_and_its_old_words_are_not,
                updated_capabilities_are_searchable_and_the_old_ones_are_not,
                search_pages_with_limit_and_offset_and_counts_every_match,
            }
            tasks {
                an_inserted_task_reads_back_unchanged,
                an_unknown_task_is_none,
                a_deleted_task_is_gone_and_other_tasks_stay,
                deleting_an_unknown_task_is_not_an_error,
                a_task_time_keeps_its_microseconds,
                a_task_keeps_its_webhook,
                a_task_keeps_its_input_byte_for_byte,
                a_free_idempotency_key_is_claimed_and_then_names_its_task,
                the_same_key_of_another_user_is_a_claim_of_its_own,
                a_claim_older_than_the_window_is_replaced,
                a_released_claim_frees_its_key_but_not_a_later_claim,
                unfinished_tasks_are_those_without_a_result_oldest_first_with_their_binary,
                tasks_accepted_at_or_after_the_bound_are_not_unfinished_ones,
                unfinished_tasks_page_after_the_last_task_even_among_equal_times,
            }
            results {
                inserting_results_returns_how_many_were_new,
                a_stored_result_reads_back_unchanged,
                an_unknown_result_is_none,
                a_result_stored_twice_keeps_the_first_and_counts_once,
                a_result_twice_in_one_batch_is_stored_and_counted_once,
                an_agent_without_results_has_empty_statistics,
                statistics_count_results_by_status,
                statistics_give_the_mean_and_nearest_rank_percentiles_of_durations,
                a_single_result_is_every_percentile,
                percentiles_describe_only_the_most_recent_results,
                the_last_run_is_the_newest_result_whatever_the_order_of_arrival,
                statistics_are_kept_per_agent,
                an_agents_tasks_completed_counts_its_stored_results,
                a_listing_shows_only_the_owners_results_newest_first,
                a_user_without_results_lists_none,
                a_result_listing_filters_by_agent,
                a_result_listing_filters_by_status,
                a_result_listing_filters_by_agent_and_status_together,
                a_result_page_holds_limit_results_from_offset_and_the_total_of_all_matches,
                watchers_learn_of_every_stored_result,
            }
            runs {
                a_task_nobody_started_has_no_run_and_no_result,
                a_start_is_recorded_with_its_attempt,
                a_later_attempt_counts_and_a_late_announcement_of_an_earlier_one_changes_nothing,
                a_cancellation_is_recorded_once_and_reported_for_a_later_start,
                progress_carries_the_stored_result_and_canceled_results_count_apart,
                a_start_later_than_the_latest_is_a_new_attempt_whatever_its_number,
                unfinished_cancellations_of_started_tasks_are_listed_until_their_result,
            }
            webhooks {
                a_stored_result_queues_a_completed_message_for_a_task_that_wants_it,
                each_started_attempt_queues_one_running_message,
                a_claimed_message_is_not_claimed_again_until_its_lease_ends,
                attempts_are_logged_and_decide_what_follows,
                a_given_up_message_is_failed_and_never_claimed_again,
                a_secret_is_created_once_and_replaced_on_rotation,
                old_finished_logs_are_deleted_and_pending_messages_kept,
            }
            retention {
                results_past_the_cutoff_go_with_their_tasks_and_runs,
                a_task_without_a_result_is_never_deleted_however_old,
                statistics_counters_are_unchanged_by_deletion,
                many_expired_results_are_deleted_batch_after_batch,
                keeping_results_forever_keeps_every_result_and_task,
                expired_tokens_are_deleted_and_live_ones_kept,
                idempotency_keys_past_their_window_are_deleted_and_newer_ones_kept,
                a_run_is_skipped_while_another_process_holds_the_retention_lock,
            }
            reviews {
                an_unreviewed_agent_has_no_rating,
                a_review_is_stored_with_its_author_and_rates_the_agent,
                posting_again_replaces_the_review_and_keeps_when_it_was_first_posted,
                the_rating_is_the_mean_to_two_decimals,
                reviews_page_newest_first_with_their_total,
                listings_sort_and_filter_by_the_reviews_rating,
            }
            health {
                a_fresh_store_is_healthy,
            }
        });
    };
}

store_contract_tests!(sqlite, crate::backends::sqlite);
store_contract_tests!(postgres, crate::backends::postgres);
