use async_trait::async_trait;

/// Whether a dependency (the database …) can serve requests, for `/health`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// The component's name as reported (`"database"`).
    fn component(&self) -> &'static str;

    /// # Errors
    /// A short, secret-free reason when the component is not usable.
    async fn check(&self) -> Result<(), String>;

    /// Whether nothing works without this component (the database): its failure makes the
    /// service `unavailable`; a failing non-essential one makes it `degraded`. Either is a 503.
    fn essential(&self) -> bool {
        true
    }
}
