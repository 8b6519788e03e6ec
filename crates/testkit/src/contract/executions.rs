use overseer_domain::{ExecutionStatus, Task, TaskExecution, TriggerType, UserId};
use overseer_ports::repositories::ExecutionFilter;
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};

use super::support::owner;
use crate::fixtures::{self, at};

async fn owned_task(repos: &Repositories, email: &str) -> (UserId, Task) {
    let user = fixtures::user(email);
    repos.users.insert(&user).await.unwrap();
    let task = fixtures::task(user.id, "Kubernetes Cluster Health Check", at(0));
    repos.tasks.insert(&task).await.unwrap();
    (user.id, task)
}

pub async fn execution_round_trips_through_its_lifecycle(repos: &Repositories) {
    let (me, task) = owned_task(repos, "me@example.com").await;
    let mut execution = fixtures::execution(&task, at(1));
    repos.executions.insert(&execution).await.unwrap();
    assert_eq!(
        repos
            .executions
            .get(execution.id, Scope::Owner(me))
            .await
            .unwrap(),
        execution
    );

    let session = fixtures::session(me, at(2));
    repos.sessions.insert(&session).await.unwrap();
    let from = execution.start(session.id, at(2)).unwrap();
    repos.executions.update(&execution, from).await.unwrap();

    let result = repos
        .messages
        .append(fixtures::message(session.id, "All pods healthy", at(3)))
        .await
        .unwrap();
    let report = fixtures::report(session.id, me, at(4));
    repos.reports.insert(&report).await.unwrap();
    let from = execution.complete(Some(result.id), at(46)).unwrap();
    execution.report_id = Some(report.id);
    repos.executions.update(&execution, from).await.unwrap();

    let stored = repos
        .executions
        .get(execution.id, Scope::Admin)
        .await
        .unwrap();
    assert_eq!(stored, execution);
    assert_eq!(stored.status(), ExecutionStatus::Completed);
    assert_eq!(stored.duration_seconds, Some(44.0));
    assert_eq!(stored.snapshot, task.snapshot());
}

pub async fn execution_update_is_compare_and_set(repos: &Repositories) {
    let (me, task) = owned_task(repos, "me@example.com").await;
    let execution = fixtures::execution(&task, at(1));
    repos.executions.insert(&execution).await.unwrap();

    // Two writers both read `pending`: one cancels, one fails. Exactly one wins.
    let mut cancel = execution.clone();
    let from = cancel.cancel(at(2)).unwrap();
    let mut fail = execution.clone();
    fail.fail("no capacity", at(2)).unwrap();
    let (a, b) = tokio::join!(
        repos.executions.update(&cancel, from),
        repos.executions.update(&fail, from)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one writer wins: {a:?} {b:?}"
    );
    let loser = a.err().or(b.err()).unwrap();
    assert!(matches!(loser, RepoError::Conflict { .. }), "{loser:?}");
    let stored = repos
        .executions
        .get(execution.id, Scope::Owner(me))
        .await
        .unwrap();
    assert!(stored == cancel || stored == fail);

    let mut ghost = fixtures::execution(&task, at(1));
    ghost.cancel(at(2)).unwrap();
    let err = repos
        .executions
        .update(&ghost, ExecutionStatus::Pending)
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err:?}");
}

pub async fn execution_list_filters_by_task_status_and_scope(repos: &Repositories) {
    let (me, task) = owned_task(repos, "me@example.com").await;
    let (other, other_task) = owned_task(repos, "other@example.com").await;
    let second_task = fixtures::task(me, "second", at(0));
    repos.tasks.insert(&second_task).await.unwrap();

    let mut done: TaskExecution = fixtures::execution(&task, at(1));
    repos.executions.insert(&done).await.unwrap();
    let from = done.cancel(at(2)).unwrap();
    repos.executions.update(&done, from).await.unwrap();
    let pending = fixtures::execution(&task, at(3));
    repos.executions.insert(&pending).await.unwrap();
    let other_tasks = fixtures::execution(&second_task, at(4));
    repos.executions.insert(&other_tasks).await.unwrap();
    repos
        .executions
        .insert(&fixtures::execution(&other_task, at(5)))
        .await
        .unwrap();

    let page = PageRequest::default();
    let by_task = ExecutionFilter {
        task_id: Some(task.id),
        status: None,
    };
    let ids: Vec<_> = repos
        .executions
        .list(Scope::Owner(me), by_task, page)
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, vec![pending.id, done.id]);

    let by_status = ExecutionFilter {
        task_id: None,
        status: Some(ExecutionStatus::Pending),
    };
    let mine = repos
        .executions
        .list(Scope::Owner(me), by_status, page)
        .await
        .unwrap();
    assert_eq!(mine.total, 2);
    assert_eq!(
        repos
            .executions
            .list(Scope::Admin, by_status, page)
            .await
            .unwrap()
            .total,
        3
    );

    // Another user's task id reveals nothing.
    let foreign = ExecutionFilter {
        task_id: Some(other_task.id),
        status: None,
    };
    assert_eq!(
        repos
            .executions
            .list(Scope::Owner(me), foreign, page)
            .await
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        repos.executions.get(pending.id, Scope::Owner(other)).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn execution_tick_is_unique_per_task(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let task = fixtures::task(me, "scheduled", at(0));
    let other_task = fixtures::task(me, "other", at(0));
    repos.tasks.insert(&task).await.unwrap();
    repos.tasks.insert(&other_task).await.unwrap();
    assert_eq!(
        repos.executions.last_scheduled_for(task.id).await.unwrap(),
        None
    );
    let tick = |task: &overseer_domain::Task, second| {
        let mut run = fixtures::execution(task, at(second));
        run.trigger = TriggerType::Scheduled;
        run.scheduled_for = Some(at(60));
        run
    };
    repos.executions.insert(&tick(&task, 61)).await.unwrap();
    let err = repos.executions.insert(&tick(&task, 62)).await.unwrap_err();
    assert!(matches!(err, RepoError::AlreadyExists { .. }), "{err:?}");
    repos
        .executions
        .insert(&tick(&other_task, 62))
        .await
        .unwrap();
    // Unscheduled runs never collide.
    repos
        .executions
        .insert(&fixtures::execution(&task, at(63)))
        .await
        .unwrap();
    repos
        .executions
        .insert(&fixtures::execution(&task, at(64)))
        .await
        .unwrap();
    let mut later = tick(&task, 121);
    later.scheduled_for = Some(at(120));
    repos.executions.insert(&later).await.unwrap();
    assert_eq!(
        repos.executions.last_scheduled_for(task.id).await.unwrap(),
        Some(at(120))
    );
    let stored = repos.executions.get(later.id, Scope::Admin).await.unwrap();
    assert_eq!(stored.scheduled_for, Some(at(120)));
}
