//! One server, as the signed-in user: JSON calls with the kept token, refreshed once when it
//! has expired.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::ClientError;
use super::credentials::{Credentials, Tokens};

/// A server and the user's tokens for it.
#[derive(Debug)]
pub struct Connection {
    pub server: String,
    http: reqwest::Client,
    credentials: Credentials,
    tokens: Option<Tokens>,
}

/// The HTTP client every command uses.
///
/// # Errors
/// [`ClientError::Http`] if it cannot be built.
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    crate::http_client::builder()
        .build()
        .map_err(ClientError::Http)
}

fn problem(status: StatusCode, body: &str) -> ClientError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let detail = parsed
        .as_ref()
        .and_then(|p| p["detail"].as_str().or_else(|| p["title"].as_str()))
        .map_or_else(|| body.trim().chars().take(300).collect(), str::to_owned);
    let fields = parsed
        .as_ref()
        .and_then(|p| p["errors"].as_array())
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    Some(format!(
                        "{}: {}",
                        e["field"].as_str()?,
                        e["message"].as_str()?
                    ))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    ClientError::Api {
        status: status.as_u16(),
        detail,
        fields,
    }
}

impl Connection {
    /// `server` with whatever tokens are kept for it.
    ///
    /// # Errors
    /// An unreadable credentials file.
    pub fn open(server: &str) -> Result<Self, ClientError> {
        let server = server.trim_end_matches('/').to_owned();
        let credentials = Credentials::in_config_dir()?;
        let tokens = credentials.get(&server)?;
        Ok(Self {
            server,
            http: http_client()?,
            credentials,
            tokens,
        })
    }

    /// The HTTP client, for streams.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `Authorization: Bearer …`, or [`ClientError::NotSignedIn`].
    ///
    /// # Errors
    /// No token kept for this server.
    pub fn bearer(&self) -> Result<String, ClientError> {
        self.tokens
            .as_ref()
            .map(|t| format!("Bearer {}", t.access_token))
            .ok_or_else(|| ClientError::NotSignedIn(self.server.clone()))
    }

    /// Signs in and keeps the tokens.
    ///
    /// # Errors
    /// Refused credentials or an unreachable server.
    pub async fn login(&mut self, email: &str, password: &str) -> Result<(), ClientError> {
        let body = serde_json::json!({"email": email, "password": password});
        let answer = self
            .send(Method::POST, "/api/v1/auth/login", Some(&body), None)
            .await?;
        self.keep(email.to_owned(), &answer)?;
        Ok(())
    }

    /// Keeps the tokens of a login or refresh `answer` for `email`, in memory and on disk.
    fn keep(&mut self, email: String, answer: &Value) -> Result<(), ClientError> {
        let token = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
        let tokens = Tokens {
            email,
            access_token: token("access_token"),
            refresh_token: token("refresh_token"),
        };
        self.credentials.set(&self.server, Some(tokens.clone()))?;
        self.tokens = Some(tokens);
        Ok(())
    }

    /// Forgets this server's tokens.
    ///
    /// # Errors
    /// An unwritable credentials file.
    pub fn logout(&mut self) -> Result<(), ClientError> {
        self.tokens = None;
        self.credentials.set(&self.server, None)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        bearer: Option<String>,
    ) -> Result<Value, ClientError> {
        let mut request = self.http.request(method, format!("{}{path}", self.server));
        if let Some(bearer) = bearer {
            request = request.header(reqwest::header::AUTHORIZATION, bearer);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                server: self.server.clone(),
                source,
            })?;
        let status = response.status();
        let text = response.text().await.map_err(ClientError::Http)?;
        if !status.is_success() {
            return Err(problem(status, &text));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Api {
            status: status.as_u16(),
            detail: format!("not JSON: {e}"),
            fields: Vec::new(),
        })
    }

    async fn refresh(&mut self) -> Result<bool, ClientError> {
        let Some(tokens) = self.tokens.clone() else {
            return Ok(false);
        };
        let body = serde_json::json!({"refresh_token": tokens.refresh_token});
        let Ok(fresh) = self
            .send(Method::POST, "/api/v1/auth/refresh", Some(&body), None)
            .await
        else {
            return Ok(false);
        };
        self.keep(tokens.email, &fresh)?;
        Ok(true)
    }

    /// A signed-in call to `/api/v1{path}`; an expired token is refreshed once.
    ///
    /// # Errors
    /// Not signed in, an unreachable server, or the API's problem.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let path = format!("/api/v1{path}");
        match self
            .send(method.clone(), &path, body, Some(self.bearer()?))
            .await
        {
            Err(ClientError::Api { status: 401, .. }) if self.refresh().await? => {
                self.send(method, &path, body, Some(self.bearer()?)).await
            }
            Err(ClientError::Api { status: 401, .. }) => {
                Err(ClientError::NotSignedIn(self.server.clone()))
            }
            other => other,
        }
    }

    /// `GET /api/v1{path}`.
    ///
    /// # Errors
    /// As [`Connection::call`].
    pub async fn get(&mut self, path: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, path, None).await
    }

    /// `POST /api/v1{path}` with `body`.
    ///
    /// # Errors
    /// As [`Connection::call`].
    pub async fn post(&mut self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }
}
