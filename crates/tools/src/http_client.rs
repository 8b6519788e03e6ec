//! The HTTP client the tools use: rustls with the ring provider and the system's roots, set
//! up explicitly so no process-wide TLS default is needed (reqwest would panic without one).

use std::sync::Arc;

use rustls_platform_verifier::BuilderVerifierExt;

/// A client builder with TLS configured.
///
/// # Errors
/// When the platform's certificate verifier cannot be set up.
pub(crate) fn builder() -> Result<reqwest::ClientBuilder, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}
