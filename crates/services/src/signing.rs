//! Signatures of webhooks, inbound and outbound: `sha256=<hex HMAC-SHA256(secret,
//! "<timestamp>.<body>")>` in [`SIGNATURE_HEADER`], the Unix time of signing in
//! [`TIMESTAMP_HEADER`].

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header carrying `sha256=<hex>` of HMAC-SHA256 over `"<timestamp>.<body>"`.
pub const SIGNATURE_HEADER: &str = "x-overseer-signature";
/// The header carrying the Unix time the delivery was signed at.
pub const TIMESTAMP_HEADER: &str = "x-overseer-timestamp";

/// `hex(HMAC-SHA256(key, message))`.
#[must_use]
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn signed_message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    message
}

/// Whether `signature` (`sha256=<hex>`) signs `message` under `secret`, compared in constant
/// time.
pub(crate) fn verify(secret: &str, message: &[u8], signature: &str) -> bool {
    let Some(tag) = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
