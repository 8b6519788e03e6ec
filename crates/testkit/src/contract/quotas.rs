use std::sync::Arc;

use overseer_domain::{Quota, UsdBudget, UserId};
use overseer_ports::{RepoError, Repositories};
use time::macros::date;

use super::support::owner;
use crate::fixtures::{at, id};

pub async fn quota_is_unset_until_stored_then_replaced(repos: &Repositories) {
    let user = owner(repos, "q@example.com").await;
    assert_eq!(repos.quotas.get(user).await.unwrap(), Quota::default());
    let quota = Quota {
        max_active_runs: Some(3),
        max_daily_cost_usd: Some(UsdBudget::new(2.5).unwrap()),
    };
    repos.quotas.set(user, quota, at(1)).await.unwrap();
    assert_eq!(repos.quotas.get(user).await.unwrap(), quota);
    let loosened = Quota {
        max_active_runs: None,
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
