//! Per-client limits on the two endpoints anyone can call and abuse: login (password guessing)
//! and register (filling the user table). Keyed by the peer address of the connection — not a
//! forwarded header, which a client could set to anything; behind a reverse proxy, every client
//! shares the proxy's address, so the proxy should limit per client itself.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Past this many tracked clients, the ones whose allowance is full again are forgotten.
const TRACKED_CLIENTS: usize = 10_000;

/// One limit: `per_minute` requests per client, as a burst, refilled evenly over the minute.
pub struct Throttle {
    /// Names the limit in the 429 problem.
    name: &'static str,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    #[must_use]
    pub fn per_minute(name: &'static str, per_minute: NonZeroU32) -> Self {
        Self {
            name,
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `req`'s client.
    ///
    /// # Errors
    /// A 429 problem naming the limit, with the seconds to wait.
    pub fn admit(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let client = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip());
        let verdict = self.limiter.check_key(&client);
        if self.limiter.len() > TRACKED_CLIENTS {
            self.limiter.retain_recent();
        }
        verdict.map_err(|not_until| {
            ApiError::rate_limited(self.name, not_until.wait_time_from(self.clock.now()))
        })
    }
}

/// The limits of the unauthenticated endpoints.
#[derive(Debug)]
pub struct AuthThrottles {
    pub login: Throttle,
    pub register: Throttle,
}

impl AuthThrottles {
    /// `per_minute` attempts per client for each of login and register.
    #[must_use]
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            login: Throttle::per_minute("login_attempts_per_minute", per_minute),
            register: Throttle::per_minute("registrations_per_minute", per_minute),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;

    use super::*;

    fn from(ip: [u8; 4]) -> HttpRequest {
        TestRequest::default()
            .peer_addr(std::net::SocketAddr::from((ip, 40_000)))
            .to_http_request()
    }

    #[test]
    fn a_client_over_its_allowance_waits_and_others_do_not() {
        let throttle = Throttle::per_minute(
            "login_attempts_per_minute",
            NonZeroU32::MIN.saturating_add(2),
        );
        let alice = from([10, 0, 0, 1]);
        for _ in 0..3 {
            throttle.admit(&alice).unwrap();
        }
        let refused = throttle.admit(&alice).unwrap_err();
        assert_eq!(refused.status_code(), StatusCode::TOO_MANY_REQUESTS);
        let response = refused.error_response();
        let retry_after: u64 = response
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        // One of three attempts comes back every 20 s.
        assert!((1..=20).contains(&retry_after), "{retry_after}");
        assert!(refused.to_string().contains("login_attempts_per_minute"));
        throttle.admit(&from([10, 0, 0, 2])).unwrap();
    }
}
