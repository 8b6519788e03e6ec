use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use overseer_domain::{DeliveryStatus, HttpUrl, NotificationEvent, NotificationFormat, UserId};
use overseer_ports::{NotificationSender, PageRequest, RandomIds};
use overseer_testkit::MemoryStore;
use overseer_testkit::fixtures::{self, ManualClock};
use serde_json::{Value, json};

use super::*;
use crate::signing::hmac_sha256_hex;

/// One request as the receiver got it: headers and body.
type Request = (Vec<(String, String)>, Vec<u8>);

/// A receiver that records what it gets and answers with the statuses it is given, then 200.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Request>>,
    answers: Mutex<Vec<Result<u16, String>>>,
}

#[async_trait]
impl NotificationSender for Receiver {
    async fn post(
        &self,
        _url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        self.got.lock().unwrap().push((headers.to_vec(), body));
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            Ok(200)
        } else {
            answers.remove(0)
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap()
}

struct World {
    service: NotificationService,
    outbox: Outbox,
    clock: Arc<ManualClock>,
    receiver: Arc<Receiver>,
    alice: RequestContext,
    deps: Deps,
}

async fn world() -> World {
    let repos = MemoryStore::new().repositories();
    let alice = fixtures::user("alice@example.com");
    repos.users.insert(&alice).await.unwrap();
    let clock = Arc::new(ManualClock::default());
    let deps = Deps {
        repos,
        clock: clock.clone(),
        ids: Arc::new(RandomIds),
    };
    let receiver = Arc::new(Receiver::default());
    World {
        service: NotificationService::new(deps.clone(), AuditService::new(deps.clone())),
        outbox: Outbox::new(deps.clone(), receiver.clone(), OutboxConfig::default()),
        clock,
        receiver,
        alice: RequestContext::internal(alice.id),
        deps,
    }
}

fn hook(events: &[NotificationEvent]) -> NewTarget {
    NewTarget {
        url: HttpUrl::new("http://127.0.0.1:9/hook").unwrap(),
        events: events.to_vec(),
        format: NotificationFormat::Json,
        global: false,
    }
}

/// Queues `notice` for the targets that hear it, as the services do.
async fn notify(service: &NotificationService, notice: Notice) {
    let targets = service.hearing(notice.event, notice.owner).await;
    service
        .enqueue(&service.deliveries_to(&targets, &notice))
        .await;
}

fn notice(owner: UserId) -> Notice {
    Notice {
        event: NotificationEvent::ApprovalRequested,
        owner,
        data: json!({"tool_name": "Bash"}),
        links: json!({"session": "/api/v1/sessions/s"}),
    }
}

#[tokio::test]
async fn a_notice_is_delivered_signed_once_to_each_target_hearing_it() {
    let w = world().await;
    let target = w
        .service
        .create_target(&w.alice, hook(&[NotificationEvent::ApprovalRequested]))
        .await
        .unwrap();
    w.service
        .create_target(&w.alice, hook(&[NotificationEvent::ExecutionFinished]))
        .await
        .unwrap();
    notify(&w.service, notice(w.alice.user_id)).await;
    assert_eq!(
        w.outbox.deliver_due().await,
        1,
        "only the target hearing the event"
    );
    assert_eq!(w.outbox.deliver_due().await, 0, "delivered: not sent again");

    let (headers, body) = w.receiver.got.lock().unwrap()[0].clone();
    let timestamp = header(&headers, "x-overseer-timestamp");
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(&body);
    assert_eq!(
        header(&headers, "x-overseer-signature"),
        format!(
            "sha256={}",
            hmac_sha256_hex(target.secret.as_bytes(), &signed)
        )
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["event"], "approval.requested");
    assert_eq!(
        body["id"].as_str().unwrap(),
        header(&headers, "x-overseer-delivery")
    );
    let listed = w
        .service
        .deliveries(&w.alice, target.id, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items[0].status, DeliveryStatus::Delivered);
    assert_eq!(listed.items[0].attempts, 1);
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_same_delivery_after_a_backoff() {
    let w = world().await;
    let target = w
        .service
        .create_target(&w.alice, hook(&[NotificationEvent::ApprovalRequested]))
        .await
        .unwrap();
    *w.receiver.answers.lock().unwrap() = vec![Err("connection refused".into()), Ok(503)];
    notify(&w.service, notice(w.alice.user_id)).await;
    assert_eq!(w.outbox.deliver_due().await, 1);
    assert_eq!(w.outbox.deliver_due().await, 0, "waits out its backoff");
    w.clock.advance(time::Duration::seconds(1));
    assert_eq!(
        w.outbox.deliver_due().await,
        1,
        "second attempt after 1 s: answered 503"
    );
    w.clock.advance(time::Duration::seconds(1));
    assert_eq!(w.outbox.deliver_due().await, 0, "the third waits 2 s");
    w.clock.advance(time::Duration::seconds(1));
    assert_eq!(w.outbox.deliver_due().await, 1);
    let ids: Vec<String> = w
        .receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| header(h, "x-overseer-delivery").to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "one id on every attempt"
    );
    let delivery = &w
        .service
        .deliveries(&w.alice, target.id, PageRequest::first(1))
        .await
        .unwrap()
        .items[0];
    assert_eq!(
        (delivery.status, delivery.attempts),
        (DeliveryStatus::Delivered, 3)
    );
}

#[tokio::test]
async fn only_admins_make_global_targets_and_nobody_reads_anothers() {
    let w = world().await;
    let mut global = hook(&[NotificationEvent::ExecutionFinished]);
    global.global = true;
    assert!(matches!(
        w.service.create_target(&w.alice, global).await,
        Err(ServiceError::Forbidden(_))
    ));
    let target = w
        .service
        .create_target(&w.alice, hook(&[NotificationEvent::ApprovalRequested]))
        .await
        .unwrap();
    let bob = fixtures::user("bob@example.com");
    w.deps.repos.users.insert(&bob).await.unwrap();
    let bob = RequestContext::internal(bob.id);
    assert!(matches!(
        w.service.target(&bob, target.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(matches!(
        w.service.delete_target(&bob, target.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    notify(&w.service, notice(bob.user_id)).await;
    assert_eq!(
        w.outbox.deliver_due().await,
        0,
        "alice's target does not hear bob's events"
    );
}
