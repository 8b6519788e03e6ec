//! The repository contract suite: what every implementation of the repository ports must do.
//!
//! Each case is an `async fn(&Repositories)` on an empty store. An adapter runs them all with
//! [`repository_contract_suite!`](crate::repository_contract_suite):
//!
//! ```ignore
//! async fn setup() -> Option<(Repositories, Guard)> { … }   // None = skip (outside CI only)
//! overseer_testkit::repository_contract_suite!(setup);
//! ```

mod approvals;
mod audit_logs;
mod executions;
mod mcp_servers;
mod messages;
mod notifications;
mod queue;
mod quotas;
mod reports;
mod sessions;
mod support;
mod tasks;
mod tool_calls;
mod users;
mod webhooks;

pub use approvals::*;
pub use audit_logs::*;
pub use executions::*;
pub use mcp_servers::*;
pub use messages::*;
pub use notifications::*;
pub use queue::*;
pub use quotas::*;
pub use reports::*;
pub use sessions::*;
pub use tasks::*;
pub use tool_calls::*;
pub use users::*;
pub use webhooks::*;

/// Expands to one `#[tokio::test]` per contract case. `$setup` is an async fn returning
/// `Option<(Repositories, Guard)>`; the guard lives until the case ends (it may drop a
/// per-test database), and `None` skips the case.
#[macro_export]
macro_rules! repository_contract_suite {
    ($setup:path) => {
        $crate::repository_contract_suite!(@cases $setup;
            user_insert_get_and_find_by_email,
            user_email_is_unique,
            user_update_count_and_list,
            task_round_trips_every_field,
            task_insert_needs_an_existing_user,
            task_scope_hides_other_owners,
            task_update_is_compare_and_set_on_version,
            task_soft_delete_hides_the_task,
            task_list_is_paginated_newest_first,
            task_scheduled_list_holds_active_scheduled_tasks_of_every_user,
            execution_round_trips_through_its_lifecycle,
            execution_update_is_compare_and_set,
            execution_list_filters_by_task_status_and_scope,
            execution_tick_is_unique_per_task,
            session_round_trips_every_field,
            session_concurrent_transitions_exactly_one_wins,
            session_update_of_missing_session_is_not_found,
            session_usage_adds_up_under_concurrency,
            session_list_filters_by_status_and_scope,
            session_list_counts_live_sessions_of_one_mode,
            session_in_flight_lists_connecting_and_processing_of_every_user,
            message_sequence_is_gap_free_under_concurrency,
            message_append_needs_an_existing_session,
            message_failed_append_uses_no_number,
            message_list_after_returns_in_order,
            message_batches_are_numbered_consecutively_and_atomically,
            message_batches_store_their_tool_calls_in_the_same_step,
            tool_call_round_trips_and_updates_compare_and_set,
            tool_call_use_id_is_unique_per_session,
            tool_call_list_is_in_call_order,
            tool_call_batches_are_all_or_nothing,
            tool_call_unfinished_lists_pending_and_running_only,
            audit_log_filters_and_scope,
            audit_entries_and_their_tool_calls_are_written_together,
            report_round_trips_with_scope,
            mcp_server_visibility_by_scope,
            mcp_server_names_are_unique_per_owner,
            mcp_server_update_and_delete_respect_scope,
            approval_round_trips_with_scope,
            a_budget_approval_keeps_its_kind,
            approvals_list_by_scope_status_and_session,
            approval_answer_and_expiry_race_has_one_winner,
            queue_claims_fairly_within_limits,
            queue_breaks_ties_by_the_user_served_least_recently,
            queue_never_hands_a_run_to_two_claimers,
            queue_global_limit_holds_under_racing_claims,
            queue_heartbeats_extend_only_own_leases,
            queue_recovery_requeues_unstarted_and_fails_started_runs,
            queue_recovery_of_a_restarted_node_takes_every_lease_it_held,
            quota_is_unset_until_stored_then_replaced,
            quota_of_a_missing_user_is_not_found,
            quota_costs_add_up_per_day_under_concurrency,
            quota_costs_sum_over_a_range_of_days_per_user_and_per_task,
            webhook_secret_is_stored_then_rotated,
            webhook_receipt_is_accepted_once_under_racing,
            webhook_receipts_older_than_the_window_are_pruned,
            notification_targets_by_scope_and_event,
            deliveries_are_claimed_when_due_leased_and_recorded,
            racing_claimers_never_take_one_delivery_twice,
            an_approval_and_its_notices_are_written_together,
            an_ending_and_its_notices_are_written_together,
        );
    };
    (@cases $setup:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some((repos, _guard)) = $setup().await {
                    $crate::contract::$case(&repos).await;
                }
            }
        )*
    };
}
