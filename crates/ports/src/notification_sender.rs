use async_trait::async_trait;

/// Sends one notification over HTTP.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationSender: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`. `Ok(status)` when the receiver
    /// answered (any status); `Err(reason)` when it could not be reached or did not answer
    /// in time. Follows no redirect.
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, String>;
}
