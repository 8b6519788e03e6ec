use std::sync::Arc;

use overseer_domain::{Quota, UsdBudget, UserId};
use overseer_ports::{RepoError, Repositories};
use time::macros::date;

use super::support::owner;
use crate::fixtures::{at, id, task};

pub async fn quota_is_unset_until_stored_then_replaced(repos: &Repositories) {
    let user = owner(repos, "q@example.com").await;
    assert_eq!(repos.quotas.get(user).await.unwrap(), Quota::default());
    let quota = Quota {
        max_active_runs: Some(3),
        max_daily_cost_usd: Some(UsdBudget::new(2.5).unwrap()),
        max_monthly_cost_usd: Some(UsdBudget::new(40.0).unwrap()),
        ask_above_usd: Some(UsdBudget::new(0.75).unwrap()),
    };
    repos.quotas.set(user, quota, at(1)).await.unwrap();
    assert_eq!(repos.quotas.get(user).await.unwrap(), quota);
    let loosened = Quota {
        max_active_runs: None,
        ask_above_usd: None,
        ..quota
    };
    repos.quotas.set(user, loosened, at(2)).await.unwrap();
    assert_eq!(repos.quotas.get(user).await.unwrap(), loosened);
}

pub async fn quota_of_a_missing_user_is_not_found(repos: &Repositories) {
    let ghost = UserId::from_uuid(id());
    assert!(matches!(
        repos.quotas.set(ghost, Quota::default(), at(1)).await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(matches!(
        repos
            .quotas
            .add_cost(ghost, date!(2026 - 11 - 24), 1.0)
            .await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn quota_costs_add_up_per_day_under_concurrency(repos: &Repositories) {
    let user = owner(repos, "spender@example.com").await;
    let other = owner(repos, "other@example.com").await;
    let day = date!(2026 - 11 - 24);
    let repos = Arc::new(repos.clone());
    let adds: Vec<_> = (0..20)
        .map(|_| {
            let repos = repos.clone();
            tokio::spawn(async move { repos.quotas.add_cost(user, day, 0.25).await })
        })
        .collect();
    for add in adds {
        add.await.unwrap().unwrap();
    }
    repos
        .quotas
        .add_cost(user, date!(2026 - 11 - 25), 1.0)
        .await
        .unwrap();
    let spent = repos.quotas.cost_on(user, day).await.unwrap();
    assert!((spent - 5.0).abs() < 1e-9, "spent {spent}");
    assert!(
        (repos
            .quotas
            .cost_on(user, date!(2026 - 11 - 25))
            .await
            .unwrap()
            - 1.0)
            .abs()
            < 1e-9
    );
    assert_eq!(repos.quotas.cost_on(other, day).await.unwrap(), 0.0);
}

pub async fn quota_costs_sum_over_a_range_of_days_per_user_and_per_task(repos: &Repositories) {
    let user = owner(repos, "monthly@example.com").await;
    let other = owner(repos, "neighbour@example.com").await;
    let nightly = task(user, "nightly", at(0));
    let weekly = task(user, "weekly", at(0));
    repos.tasks.insert(&nightly).await.unwrap();
    repos.tasks.insert(&weekly).await.unwrap();
    for (day, usd) in [
        (date!(2026 - 10 - 31), 100.0),
        (date!(2026 - 11 - 01), 1.0),
        (date!(2026 - 11 - 15), 2.0),
        (date!(2026 - 11 - 30), 4.0),
        (date!(2026 - 12 - 01), 100.0),
    ] {
        repos.quotas.add_cost(user, day, usd).await.unwrap();
        repos
            .quotas
            .add_task_cost(nightly.id, day, usd)
            .await
            .unwrap();
        repos
            .quotas
            .add_task_cost(nightly.id, day, usd)
            .await
            .unwrap();
    }
    repos
        .quotas
        .add_cost(other, date!(2026 - 11 - 02), 50.0)
        .await
        .unwrap();
    repos
        .quotas
        .add_task_cost(weekly.id, date!(2026 - 11 - 02), 50.0)
        .await
        .unwrap();
    let (first, last) = (date!(2026 - 11 - 01), date!(2026 - 11 - 30));
    let spent = repos.quotas.cost_between(user, first, last).await.unwrap();
    assert!(
        (spent - 7.0).abs() < 1e-9,
        "the user spent {spent} in November"
    );
    let spent = repos
        .quotas
        .task_cost_between(nightly.id, first, last)
        .await
        .unwrap();
    assert!(
        (spent - 14.0).abs() < 1e-9,
        "the task spent {spent} in November"
    );
    let none = repos
        .quotas
        .cost_between(user, date!(2027 - 01 - 01), date!(2027 - 01 - 31))
        .await
        .unwrap();
    assert!(none.abs() < f64::EPSILON);
    assert!(matches!(
        repos
            .quotas
            .add_task_cost(overseer_domain::TaskId::from_uuid(id()), first, 1.0)
            .await,
        Err(RepoError::NotFound { .. })
    ));
}
