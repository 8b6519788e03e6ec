//! Notifications over HTTP with reqwest: a POST with a 10 s timeout, no redirects.

use std::time::Duration;

use async_trait::async_trait;
use overseer_ports::NotificationSender;

/// How long a receiver may take to answer one delivery.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends notifications with reqwest.
#[derive(Debug, Clone)]
pub struct HttpNotificationSender {
    client: reqwest::Client,
}

impl HttpNotificationSender {
    /// A sender with its own client.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS provider).
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = crate::http_client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl NotificationSender for HttpNotificationSender {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            // Without the URL (the target's own, shown beside it), with every cause: "error
            // sending request" alone tells the owner nothing.
            Err(err) => {
                let err = err.without_url();
                let mut reason = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    reason.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                Err(reason)
            }
        }
    }
}
