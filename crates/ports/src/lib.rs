//! Ports: the traits services are written against. Adapters (the store, the CLI runner, the
//! HTTP layer) implement or call them; nothing here knows which adapter is behind a trait.
//!
//! With the `mocks` feature every trait also has a mockall `Mock…` type.
#![warn(missing_docs)]

pub mod agent;
pub mod auth;
mod broadcast;
mod calendar;
mod clock;
mod cluster;
mod error;
mod execution_queue;
mod files;
mod health;
mod id_source;
mod notification_sender;
mod page;
pub mod report_renderer;
pub mod repositories;
mod telemetry;

pub use broadcast::{
    EventBroadcaster, EventSubscriber, LiveEvent, LiveEventBody, LiveEventKind, SharedMessage,
    SubscribersFull, Subscription, SubscriptionEnd, message_payload,
};
pub use calendar::ScheduleCalendar;
pub use clock::{Clock, SystemClock};
pub use cluster::{ClusterBus, Command, EventNote, NoteHandler, NoteKind, StoredEvent};
pub use error::RepoError;
pub use execution_queue::{ExecutionQueue, QueueError};
pub use files::{FileError, ReportFiles, Workspaces};
pub use health::HealthProbe;
pub use id_source::{IdSource, RandomIds};
pub use notification_sender::NotificationSender;
pub use page::{Page, PageRequest, Scope};
pub use report_renderer::ReportRenderer;
pub use repositories::Repositories;
pub use telemetry::{ApprovalResult, Hibernation, NoTelemetry, Telemetry};

#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use health::MockHealthProbe;
#[cfg(any(test, feature = "mocks"))]
pub use id_source::MockIdSource;
#[cfg(any(test, feature = "mocks"))]
pub use notification_sender::MockNotificationSender;
#[cfg(any(test, feature = "mocks"))]
pub use {
    broadcast::MockEventBroadcaster,
    calendar::MockScheduleCalendar,
    cluster::MockClusterBus,
    execution_queue::MockExecutionQueue,
    files::{MockReportFiles, MockWorkspaces},
    report_renderer::MockReportRenderer,
};
