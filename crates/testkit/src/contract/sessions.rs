use std::sync::Arc;

use overseer_domain::{SessionMode, SessionStatus};
use overseer_ports::repositories::{SessionFilter, UsageDelta};
use overseer_ports::{PageRequest, RepoError, Repositories, Scope};
use tokio::sync::Barrier;

use super::support::owner;
use crate::fixtures::{self, at};

pub async fn session_round_trips_every_field(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let mut session = fixtures::session(me, at(1));
    session.description = Some("nightly check".to_owned());
    session.host_node = Some("node-a".to_owned());
    repos.sessions.insert(&session).await.unwrap();
    assert_eq!(
        repos
            .sessions
            .get(session.id, Scope::Owner(me))
            .await
            .unwrap(),
        session
    );

    let from = session
        .transition_to(SessionStatus::Connecting, at(2))
        .unwrap();
    session.working_directory_path = Some(format!("/data/agent-workdirs/active/{}", session.id));
    repos.sessions.update_status(&session, from).await.unwrap();
    repos
        .sessions
        .set_agent_session_id(session.id, "cli-session-1")
        .await
        .unwrap();
    session.agent_session_id = Some("cli-session-1".to_owned());
    let from = session.fail("agent exited with code 1", at(3)).unwrap();
    repos.sessions.update_status(&session, from).await.unwrap();
    assert_eq!(
        repos.sessions.get(session.id, Scope::Admin).await.unwrap(),
        session
    );

    let other = owner(repos, "other@example.com").await;
    assert!(matches!(
        repos.sessions.get(session.id, Scope::Owner(other)).await,
        Err(RepoError::NotFound { .. })
    ));
}

/// Two writers move the same session from the same status at the same moment: exactly one
/// succeeds and the other gets `Conflict`. Repeated to give the race many chances.
pub async fn session_concurrent_transitions_exactly_one_wins(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    for round in 0..20 {
        let session = fixtures::session(me, at(round));
        repos.sessions.insert(&session).await.unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let mut handles = Vec::new();
        for target in [SessionStatus::Connecting, SessionStatus::Terminated] {
            let (repos, barrier, mut copy) = (repos.clone(), barrier.clone(), session.clone());
            handles.push(tokio::spawn(async move {
                let from = copy.transition_to(target, at(100)).unwrap();
                barrier.wait().await;
                repos
                    .sessions
                    .update_status(&copy, from)
                    .await
                    .map(|()| target)
            }));
        }
        let mut winners = Vec::new();
        for handle in handles {
            match handle.await.unwrap() {
                Ok(target) => winners.push(target),
                Err(RepoError::Conflict { .. }) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let stored = repos.sessions.get(session.id, Scope::Admin).await.unwrap();
        assert_eq!(stored.status(), winners[0]);
    }
}

pub async fn session_update_of_missing_session_is_not_found(repos: &Repositories) {
    let mut ghost = fixtures::session(fixtures::user("ghost@example.com").id, at(1));
    let from = ghost
        .transition_to(SessionStatus::Connecting, at(2))
        .unwrap();
    assert!(matches!(
        repos.sessions.update_status(&ghost, from).await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(matches!(
        repos
            .sessions
            .add_usage(ghost.id, UsageDelta::default())
            .await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(matches!(
        repos.sessions.set_agent_session_id(ghost.id, "x").await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(matches!(
        repos.sessions.insert(&ghost).await,
        Err(RepoError::NotFound { .. })
    ));
}

pub async fn session_usage_adds_up_under_concurrency(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let session = fixtures::session(me, at(1));
    repos.sessions.insert(&session).await.unwrap();
    let mut handles = Vec::new();
    for _ in 0..20 {
        let repos = repos.clone();
        handles.push(tokio::spawn(async move {
            let delta = UsageDelta {
                input_tokens: 100,
                output_tokens: 7,
                cost_usd: 0.25,
            };
            repos.sessions.add_usage(session.id, delta).await
        }));
    }
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let usage = repos
        .sessions
        .get(session.id, Scope::Admin)
        .await
        .unwrap()
        .usage;
    assert_eq!(usage.input_tokens, 2000);
    assert_eq!(usage.output_tokens, 140);
    assert!(
        (usage.total_cost_usd - 5.0).abs() < 1e-9,
        "{}",
        usage.total_cost_usd
    );
}

pub async fn session_list_filters_by_status_and_scope(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let other = owner(repos, "other@example.com").await;
    let created = fixtures::session(me, at(1));
    let mut ended = fixtures::session(me, at(2));
    repos.sessions.insert(&created).await.unwrap();
    repos.sessions.insert(&ended).await.unwrap();
    let from = ended
        .transition_to(SessionStatus::Terminated, at(3))
        .unwrap();
    repos.sessions.update_status(&ended, from).await.unwrap();
    repos
        .sessions
        .insert(&fixtures::session(other, at(4)))
        .await
        .unwrap();

    let page = PageRequest::default();
    let all_mine = repos
        .sessions
        .list(Scope::Owner(me), SessionFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(
        all_mine.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![ended.id, created.id]
    );
    let live = SessionFilter {
        status: Some(SessionStatus::Created),
        ..SessionFilter::default()
    };
    assert_eq!(
        repos
            .sessions
            .list(Scope::Owner(me), live, page)
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        repos
            .sessions
            .list(Scope::Admin, live, page)
            .await
            .unwrap()
            .total,
        2
    );
}

/// What the open-sessions cap counts: a user's live sessions of one mode.
pub async fn session_list_counts_live_sessions_of_one_mode(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let other = owner(repos, "other@example.com").await;
    let interactive = |user, minute| {
        let mut session = fixtures::session(user, at(minute));
        session.mode = SessionMode::Interactive;
        session
    };
    let mut active = interactive(me, 1);
    let mut ended = interactive(me, 2);
    for session in [&active, &ended, &interactive(me, 3), &interactive(other, 4)] {
        repos.sessions.insert(session).await.unwrap();
    }
    repos
        .sessions
        .insert(&fixtures::session(me, at(5)))
        .await
        .unwrap();
    for to in [SessionStatus::Connecting, SessionStatus::Active] {
        let from = active.transition_to(to, at(6)).unwrap();
        repos.sessions.update_status(&active, from).await.unwrap();
    }
    let from = ended
        .transition_to(SessionStatus::Terminated, at(6))
        .unwrap();
    repos.sessions.update_status(&ended, from).await.unwrap();
    let open_interactive = SessionFilter {
        mode: Some(SessionMode::Interactive),
        live_only: true,
        ..SessionFilter::default()
    };
    let count = |scope| async move {
        repos
            .sessions
            .list(scope, open_interactive, PageRequest::default())
            .await
            .unwrap()
            .total
    };
    assert_eq!(
        count(Scope::Owner(me)).await,
        2,
        "active and created, not ended nor task"
    );
    assert_eq!(count(Scope::Admin).await, 3);
}

pub async fn session_in_flight_lists_connecting_and_processing_of_every_user(repos: &Repositories) {
    let me = owner(repos, "me@example.com").await;
    let other = owner(repos, "other@example.com").await;
    let mut expected = Vec::new();
    for (n, (user, path)) in [
        (me, &[][..]),
        (me, &[SessionStatus::Connecting][..]),
        (
            other,
            &[SessionStatus::Connecting, SessionStatus::Active][..],
        ),
        (
            other,
            &[
                SessionStatus::Connecting,
                SessionStatus::Active,
                SessionStatus::Processing,
            ][..],
        ),
        (me, &[SessionStatus::Terminated][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut session = fixtures::session(user, at(n as i64 + 1));
        session.host_node = Some(format!("node-{n}"));
        repos.sessions.insert(&session).await.unwrap();
        for status in path {
            let from = session.transition_to(*status, at(10)).unwrap();
            repos.sessions.update_status(&session, from).await.unwrap();
        }
        if matches!(
            session.status(),
            SessionStatus::Connecting | SessionStatus::Processing
        ) {
            expected.push(session.id);
        }
    }
    let mut found: Vec<_> = repos
        .sessions
        .in_flight()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.host_node))
        .collect();
    found.sort_by_key(|(id, _)| id.as_uuid());
    expected.sort_by_key(|id| id.as_uuid());
    assert_eq!(
        found.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        expected
    );
    assert!(found.iter().all(|(_, host)| host.is_some()), "{found:?}");
}
