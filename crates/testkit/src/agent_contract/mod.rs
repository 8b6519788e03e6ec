//! The agent runner contract suite: what an `AgentRunner` must do, checked against the fake CLI
//! and the real CLI (pointed at the fake Anthropic API) with the same scripted scenarios.

mod cases;
mod failures;
mod features;
mod harness;
mod recorders;

pub use cases::*;
pub use failures::*;
pub use features::*;
pub use harness::{AgentHarness, RunnerFactory};
pub use recorders::{CallLog, EchoServer, RecordingHooks, RecordingPermissions};

/// Expands to one `#[tokio::test]` per case. `$setup` is an async fn returning
/// `Option<AgentHarness>` (`None` skips, outside CI only). `(@features $setup)` expands the
/// cases of the CLI's agent features, for the real CLI.
#[macro_export]
macro_rules! agent_contract_suite {
    ($setup:path) => {
        $crate::agent_contract_suite!(@cases $setup;
            bash_turn_writes_the_file_in_protocol_order,
            permission_deny_blocks_the_tool,
            permission_rewrite_runs_the_rewritten_input,
            hooks_observe_and_pre_tool_use_deny_blocks,
            in_process_mcp_tool_is_listed_and_called,
            interrupt_ends_the_turn_and_the_session_goes_on,
            resume_continues_the_conversation,
            resume_of_unknown_conversation_fails_at_start,
            crash_mid_turn_is_reported_and_leaves_no_process,
            close_leaves_no_process,
            api_error_ends_the_turn_with_is_error,
            permission_mode_and_model_can_change,
            dropping_a_session_kills_its_process,
        );
    };
    (@features $setup:path) => {
        $crate::agent_contract_suite!(@cases $setup;
            output_format_gives_the_structured_result,
            subagent_tool_use_is_attributed_to_its_parent,
            effort_reaches_the_model,
            fork_continues_the_conversation_and_leaves_the_original,
            fork_at_a_message_keeps_only_what_came_before,
            budget_stops_the_turn_and_a_resumed_agent_counts_only_its_own_cost,
        );
    };
    (@cases $setup:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(harness) = $setup().await {
                    $crate::agent_contract::$case(&harness).await;
                }
            }
        )*
    };
}
