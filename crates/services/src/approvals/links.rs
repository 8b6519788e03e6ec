//! One-tap approval links: signed for one approval and one decision, expiring with it.

use std::sync::Arc;

use overseer_domain::{Approval, ApprovalId, ApprovalStatus, AuditAction, Role};
use overseer_ports::auth::{TokenClaims, TokenIssuer, TokenKind};
use serde_json::json;

use super::ApprovalGate;
use crate::audit::AuditRecord;
use crate::context::RequestContext;
use crate::error::ServiceError;

/// Makes and checks one-tap approval links: `<public URL>/api/v1/approval-links/<id>/<allow|deny>?token=…`,
/// the token signed for that approval and decision, expiring with the approval.
pub(super) struct LinkSigner {
    issuer: Arc<dyn TokenIssuer>,
    public_url: String,
}

impl LinkSigner {
    pub(super) fn link(&self, approval: &Approval, allow: bool) -> Option<String> {
        let claims = TokenClaims {
            user_id: approval.user_id,
            role: Role::User,
            kind: TokenKind::ApprovalLink {
                approval: approval.id,
                allow,
            },
            expires_at: approval.expires_at,
        };
        let token = self.issuer.issue(&claims).ok()?;
        Some(format!(
            "{}/api/v1/approval-links/{}/{}?token={token}",
            self.public_url.trim_end_matches('/'),
            approval.id,
            if allow { "allow" } else { "deny" }
        ))
    }
}

impl ApprovalGate {
    /// From now on, `approval.requested` notices carry `links.approve` and `links.deny`:
    /// absolute URLs under `public_url` with tokens signed by `issuer`. Only the first call
    /// counts.
    pub fn enable_links(&self, issuer: Arc<dyn TokenIssuer>, public_url: &str) {
        let _ = self.links.set(LinkSigner {
            issuer,
            public_url: public_url.to_owned(),
        });
    }

    /// The approval a one-tap link answers, while it still waits. Decides nothing: a GET of
    /// the link shows it.
    ///
    /// # Errors
    /// As [`ApprovalGate::decide_by_link`].
    pub async fn link_target(
        &self,
        id: ApprovalId,
        allow: bool,
        token: &str,
    ) -> Result<Approval, ServiceError> {
        let signer = self.links.get().ok_or(ServiceError::Unauthorized)?;
        let claims = signer
            .issuer
            .verify(
                token,
                TokenKind::ApprovalLink {
                    approval: id,
                    allow,
                },
            )
            .map_err(|_| ServiceError::Unauthorized)?;
        let approval = self
            .deps
            .repos
            .approvals
            .get(id, overseer_ports::Scope::Owner(claims.user_id))
            .await
            .map_err(|_| ServiceError::Unauthorized)?;
        if approval.status() != ApprovalStatus::Pending {
            return Err(ServiceError::Gone(
                "the approval was already answered or has expired",
            ));
        }
        Ok(approval)
    }

    /// Answers approval `id` through a one-tap link: `token` must have been signed for this
    /// approval and this decision, and the approval must still wait. Decided as its owner;
    /// audited as done "via link".
    ///
    /// # Errors
    /// `Unauthorized` for a token that is not this link's (tampered, expired, another
    /// approval's or decision's), `Gone` once the approval was answered or expired.
    pub async fn decide_by_link(
        &self,
        id: ApprovalId,
        allow: bool,
        token: &str,
        origin: Option<&RequestContext>,
    ) -> Result<Approval, ServiceError> {
        let approval = self.link_target(id, allow, token).await?;
        let mut owner = RequestContext::internal(approval.user_id);
        if let Some(origin) = origin {
            owner.ip_address.clone_from(&origin.ip_address);
            owner.user_agent.clone_from(&origin.user_agent);
        }
        let decided = match self.decide(&owner, id, allow).await {
            Err(ServiceError::Conflict(_)) => {
                return Err(ServiceError::Gone(
                    "the approval was already answered or has expired",
                ));
            }
            other => other?,
        };
        self.audit
            .record(
                AuditRecord {
                    actor: Some(approval.user_id),
                    action: AuditAction::ApprovalDecidedViaLink,
                    resource_type: "approval",
                    resource_id: Some(id.to_string()),
                    details: json!({"decision": if allow { "allow" } else { "deny" }, "via": "link", "session_id": decided.session_id}),
                },
                Some(&owner),
            )
            .await?;
        Ok(decided)
    }
}

#[cfg(test)]
mod tests {
    use overseer_ports::Scope;
    use overseer_ports::auth::{CredentialError, MockTokenIssuer};
    use overseer_testkit::fixtures;

    use super::*;

    /// An issuer whose only valid token is "good": an allow link of `owner`'s.
    fn issuer(owner: overseer_domain::UserId) -> MockTokenIssuer {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_| Ok("good".to_owned()));
        issuer
            .expect_verify()
            .returning(move |token, kind| match (token, kind) {
                ("good", TokenKind::ApprovalLink { allow: true, .. }) => Ok(TokenClaims {
                    user_id: owner,
                    role: Role::User,
                    kind,
                    expires_at: fixtures::EPOCH,
                }),
                _ => Err(CredentialError::InvalidToken),
            });
        issuer
    }

    #[tokio::test]
    async fn a_link_decides_once_as_the_owner_and_a_bad_token_decides_nothing() {
        let world = super::super::TestWorld::new().await;
        let (repos, owner, session, gate) = (
            world.repos.clone(),
            world.owner.clone(),
            world.session.clone(),
            world.gate.clone(),
        );
        let asking = world.ask("deploy");
        let id = loop {
            if let Some(pending) = repos
                .approvals
                .list_pending(session.id)
                .await
                .unwrap()
                .pop()
            {
                break pending.id;
            }
            tokio::task::yield_now().await;
        };
        assert!(
            matches!(
                gate.decide_by_link(id, true, "good", None).await,
                Err(ServiceError::Unauthorized)
            ),
            "links are refused until the HTTP API enables them"
        );
        gate.enable_links(Arc::new(issuer(owner.id)), "https://overseer.example.com/");
        for (token, allow) in [("forged", true), ("good", false)] {
            assert!(matches!(
                gate.decide_by_link(id, allow, token, None).await,
                Err(ServiceError::Unauthorized)
            ));
        }
        assert_eq!(
            repos
                .approvals
                .get(id, Scope::Admin)
                .await
                .unwrap()
                .status(),
            ApprovalStatus::Pending,
            "a refused link decides nothing"
        );
        let decided = gate.decide_by_link(id, true, "good", None).await.unwrap();
        assert_eq!(
            decided.decided_by,
            Some(owner.id),
            "decided as the approval's owner"
        );
        assert_eq!(
            asking.await.unwrap(),
            super::super::ApprovalOutcome::Allowed { by: owner.id }
        );
        assert!(matches!(
            gate.decide_by_link(id, true, "good", None).await,
            Err(ServiceError::Gone(_))
        ));
        let audit = repos
            .audit_logs
            .list(
                Scope::Admin,
                Default::default(),
                overseer_ports::PageRequest::first(20),
            )
            .await
            .unwrap();
        assert!(
            audit
                .items
                .iter()
                .any(|e| e.action == AuditAction::ApprovalDecidedViaLink)
        );
    }

    #[tokio::test]
    async fn a_link_to_an_expired_approval_is_gone() {
        let world = super::super::TestWorld::new().await;
        world
            .gate
            .enable_links(Arc::new(issuer(world.owner.id)), "http://127.0.0.1:8080");
        let mut lapsed = Approval::pending(
            ApprovalId::from_uuid(uuid::Uuid::now_v7()),
            world.session.id,
            world.owner.id,
            None,
            "Bash".into(),
            json!({}),
            fixtures::EPOCH,
            fixtures::EPOCH,
        );
        world.repos.approvals.insert(&lapsed, &[]).await.unwrap();
        lapsed
            .resolve(ApprovalStatus::Expired, None, fixtures::EPOCH)
            .unwrap();
        world
            .repos
            .approvals
            .update(&lapsed, ApprovalStatus::Pending, &[])
            .await
            .unwrap();
        assert!(matches!(
            world
                .gate
                .decide_by_link(lapsed.id, true, "good", None)
                .await,
            Err(ServiceError::Gone(_))
        ));
        assert!(matches!(
            world.gate.link_target(lapsed.id, true, "good").await,
            Err(ServiceError::Gone(_))
        ));
    }

    #[test]
    fn a_link_is_absolute_and_names_its_approval_and_decision() {
        let owner = fixtures::user("o@example.com").id;
        let signer = LinkSigner {
            issuer: Arc::new(issuer(owner)),
            public_url: "https://overseer.example.com/".to_owned(),
        };
        let approval = Approval::pending(
            ApprovalId::from_uuid(uuid::Uuid::nil()),
            fixtures::session(owner, fixtures::EPOCH).id,
            owner,
            None,
            "Bash".into(),
            json!({}),
            fixtures::EPOCH,
            fixtures::EPOCH,
        );
        assert_eq!(
            signer.link(&approval, false).unwrap(),
            "https://overseer.example.com/api/v1/approval-links/00000000-0000-0000-0000-000000000000/deny?token=good"
        );
    }
}
