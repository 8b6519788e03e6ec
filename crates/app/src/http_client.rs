//! The one way the binary builds an HTTP client (the CLI client, notification deliveries).

/// A reqwest builder with the TLS crypto provider in place: reqwest is built without one
/// (`rustls-no-provider`), and ring is the one the workspace already has for the tool
/// servers. Installing it again does nothing.
pub fn builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("overseer/", env!("CARGO_PKG_VERSION")))
}
