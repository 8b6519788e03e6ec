use overseer_domain::{
    AgentOptions, CronSchedule, MissedTicks, PromptTemplate, ReportFormat, Schedule, TaskName,
    TaskTemplate, TimeZoneName,
};
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};

use super::support::owner;
use crate::fixtures::{self, at};

pub async fn task_round_trips_every_field(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let mut task = fixtures::task(me, "Kubernetes Cluster Health Check", at(1));
    task.schedule = Some(Schedule {
        cron: CronSchedule::new("0 */6 * * *").unwrap(),
        time_zone: TimeZoneName::new("Europe/Berlin").unwrap(),
        missed: MissedTicks::RunOnce,
    });
    task.report_format = ReportFormat::Pdf;
    repos.tasks.insert(&task).await.unwrap();
    assert_eq!(
        repos.tasks.get(task.id, Scope::Owner(me)).await.unwrap(),
        task
    );
    assert_eq!(repos.tasks.get(task.id, Scope::Admin).await.unwrap(), task);
}

pub async fn task_insert_needs_an_existing_user(repos: &Repositories) {
    let task = fixtures::task(fixtures::user("ghost@example.com").id, "t", at(1));
    let err = repos.tasks.insert(&task).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err:?}");
}

pub async fn task_scope_hides_other_owners(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let other = owner(repos, "other@example.com").await;
    let mine = fixtures::task(me, "mine", at(1));
    let theirs = fixtures::task(other, "theirs", at(2));
    repos.tasks.insert(&mine).await.unwrap();
    repos.tasks.insert(&theirs).await.unwrap();

    let err = repos
        .tasks
        .get(theirs.id, Scope::Owner(me))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }));
    let page = repos
        .tasks
        .list(Scope::Owner(me), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].id, mine.id);
    assert_eq!(
        repos
            .tasks
            .list(Scope::Admin, PageRequest::default())
            .await
            .unwrap()
            .total,
        2
    );
    let err = repos
        .tasks
        .soft_delete(theirs.id, Scope::Owner(me))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }));
    assert!(
        repos
            .tasks
            .get(theirs.id, Scope::Owner(other))
            .await
            .is_ok()
    );
}

pub async fn task_update_is_compare_and_set_on_version(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let task = fixtures::task(me, "v1", at(1));
    repos.tasks.insert(&task).await.unwrap();

    let mut edited = task.clone();
    edited.name = TaskName::new("v2").unwrap();
    edited.template = TaskTemplate::new(PromptTemplate::parse("plain").unwrap(), vec![]).unwrap();
    edited.options = AgentOptions::default();
    edited.is_active = false;
    edited.version = 2;
    edited.updated_at = at(5);
    repos.tasks.update(&edited, 1).await.unwrap();
    assert_eq!(
        repos.tasks.get(task.id, Scope::Admin).await.unwrap(),
        edited
    );

    // A second writer that also read version 1 loses.
    let mut stale = task.clone();
    stale.version = 2;
    stale.name = TaskName::new("lost update").unwrap();
    let err = repos.tasks.update(&stale, 1).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
    assert_eq!(
        repos
            .tasks
            .get(task.id, Scope::Admin)
            .await
            .unwrap()
            .name
            .as_str(),
        "v2"
    );

    let ghost = fixtures::task(me, "ghost", at(1));
    assert!(matches!(
        repos.tasks.update(&ghost, 1).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn task_soft_delete_hides_the_task(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let task = fixtures::task(me, "doomed", at(1));
    repos.tasks.insert(&task).await.unwrap();
    repos
        .tasks
        .soft_delete(task.id, Scope::Owner(me))
        .await
        .unwrap();

    assert!(matches!(
        repos.tasks.get(task.id, Scope::Admin).await,
        Err(RepoError::NotFound { .. })
    ));
    assert_eq!(
        repos
            .tasks
            .list(Scope::Admin, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        repos.tasks.soft_delete(task.id, Scope::Owner(me)).await,
        Err(RepoError::NotFound { .. })
    ));
    let mut edited = task.clone();
    edited.version = 2;
    assert!(matches!(
        repos.tasks.update(&edited, 1).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn task_list_is_paginated_newest_first(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let task = fixtures::task(me, &format!("task {i}"), at(i));
        repos.tasks.insert(&task).await.unwrap();
        ids.push(task.id);
    }
    ids.reverse();
    let first = repos
        .tasks
        .list(Scope::Owner(me), PageRequest::new(2, 0))
        .await
        .unwrap();
    let second = repos
        .tasks
        .list(Scope::Owner(me), PageRequest::new(2, 2))
        .await
        .unwrap();
    let last = repos
        .tasks
        .list(Scope::Owner(me), PageRequest::new(2, 4))
        .await
        .unwrap();
    assert_eq!(first.total, 5);
    assert_eq!(last.total, 5);
    let seen: Vec<_> = [first.items, second.items, last.items]
        .concat()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(seen, ids);
    let beyond = repos
        .tasks
        .list(Scope::Owner(me), PageRequest::new(2, 10))
        .await
        .unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
}

pub async fn task_scheduled_list_holds_active_scheduled_tasks_of_every_user(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let other = owner(repos, "other@example.com").await;
    let schedule = || {
        Some(Schedule {
            cron: CronSchedule::new("*/5 * * * *").unwrap(),
            time_zone: TimeZoneName::utc(),
            missed: MissedTicks::Skip,
        })
    };
    let mut mine = fixtures::task(me, "mine", at(1));
    mine.schedule = schedule();
    let mut theirs = fixtures::task(other, "theirs", at(2));
    theirs.schedule = schedule();
    let mut paused = fixtures::task(me, "paused", at(3));
    paused.schedule = schedule();
    paused.is_active = false;
    let unscheduled = fixtures::task(me, "manual", at(4));
    let mut deleted = fixtures::task(me, "deleted", at(5));
    deleted.schedule = schedule();
    for task in [&mine, &theirs, &paused, &unscheduled, &deleted] {
        repos.tasks.insert(task).await.unwrap();
    }
    repos
        .tasks
        .soft_delete(deleted.id, Scope::Admin)
        .await
        .unwrap();
    let ids: Vec<_> = repos
        .tasks
        .list_scheduled()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec![mine.id, theirs.id]);
}
