//! The body of a delivery, by the target's format.

use overseer_domain::{DeliveryId, NotificationEvent, NotificationFormat};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Notice;

/// The document sent for `notice` to a target of `format`.
pub(super) fn body(
    format: NotificationFormat,
    id: DeliveryId,
    notice: &Notice,
    now: OffsetDateTime,
) -> Value {
    match format {
        NotificationFormat::Json => json!({
            "id": id,
            "event": notice.event,
            "created_at": now.format(&Rfc3339).unwrap_or_default(),
            "data": notice.data,
            "_links": notice.links,
        }),
        NotificationFormat::Slack => slack(notice),
    }
}

fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// At most `max` characters of `text`, marked when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    text.chars().take(max).chain(std::iter::once('…')).collect()
}

/// A Slack incoming-webhook body: a line of text (for notifications) and blocks.
fn slack(notice: &Notice) -> Value {
    let data = &notice.data;
    let budget = data.get("kind").and_then(Value::as_str) == Some("budget");
    let summary = match notice.event {
        NotificationEvent::ApprovalRequested if budget => format!(
            "Budget: *{}* has cost ${} and asks to continue past ${}",
            text(data, "session_name"),
            text(&data["tool_input"], "spent_usd"),
            text(&data["tool_input"], "threshold_usd")
        ),
        NotificationEvent::ApprovalRequested => format!(
            "Approval needed: *{}* wants to run `{}`",
            text(data, "session_name"),
            text(data, "tool_name")
        ),
        NotificationEvent::ApprovalDecided => format!(
            "Approval of `{}` {}",
            text(data, "tool_name"),
            text(data, "status")
        ),
        NotificationEvent::ExecutionFinished => format!(
            "Run of *{}* {} ({} s, ${})",
            text(data, "task_name"),
            text(data, "status"),
            text(data, "duration_seconds"),
            text(data, "cost_usd")
        ),
        NotificationEvent::BudgetThreshold => match text(data, "action").as_str() {
            "asked" => format!(
                "Budget: a session reached its threshold of ${} (${} spent) and asks to go on",
                text(data, "threshold_usd"),
                text(data, "spent_usd")
            ),
            _ => format!(
                "Budget: a session was stopped at its {} budget (${} spent)",
                text(data, "limit"),
                text(data, "spent_usd")
            ),
        },
    };
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": summary}})];
    if let Some(input) = data.get("tool_input").filter(|_| !budget) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("```{}```", cut(&input.to_string(), 500))}}));
    }
    if let Some(links) = notice.links.as_object() {
        let elements: Vec<Value> = links
            .iter()
            .filter_map(|(name, href)| {
                Some(json!({"type": "mrkdwn", "text": format!("<{}|{name}>", href.as_str()?)}))
            })
            .collect();
        if !elements.is_empty() {
            blocks.push(json!({"type": "context", "elements": elements}));
        }
    }
    json!({"text": summary, "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use overseer_domain::UserId;
    use uuid::Uuid;

    use super::*;

    fn notice() -> Notice {
        Notice {
            event: NotificationEvent::ApprovalRequested,
            owner: UserId::from_uuid(Uuid::nil()),
            data: json!({"session_name": "deploy", "tool_name": "Bash", "tool_input": {"command": "kubectl apply"}}),
            links: json!({"session": "/api/v1/sessions/s"}),
        }
    }

    #[test]
    fn a_json_body_carries_its_delivery_id_the_event_data_and_links() {
        let id = DeliveryId::from_uuid(Uuid::from_u128(7));
        let body = body(
            NotificationFormat::Json,
            id,
            &notice(),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(body["id"], json!(id));
        assert_eq!(body["event"], "approval.requested");
        assert_eq!(body["data"]["tool_name"], "Bash");
        assert_eq!(body["_links"]["session"], "/api/v1/sessions/s");
    }

    #[test]
    fn a_slack_body_has_a_summary_the_tool_input_and_links() {
        let body = body(
            NotificationFormat::Slack,
            DeliveryId::from_uuid(Uuid::nil()),
            &notice(),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(
            body["text"],
            "Approval needed: *deploy* wants to run `Bash`"
        );
        assert!(
            body["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("kubectl apply")
        );
        assert_eq!(
            body["blocks"][2]["elements"][0]["text"],
            "</api/v1/sessions/s|session>"
        );
    }

    #[test]
    fn a_slack_budget_approval_says_what_was_spent_and_shows_no_tool() {
        let notice = Notice {
            data: json!({"session_name": "nightly", "kind": "budget", "tool_name": "",
                "tool_input": {"threshold_usd": 0.5, "spent_usd": 0.55}}),
            ..notice()
        };
        let body = body(
            NotificationFormat::Slack,
            DeliveryId::from_uuid(Uuid::nil()),
            &notice,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(
            body["text"],
            "Budget: *nightly* has cost $0.55 and asks to continue past $0.5"
        );
        assert_eq!(
            body["blocks"][1]["type"], "context",
            "links follow the summary"
        );
    }
}
