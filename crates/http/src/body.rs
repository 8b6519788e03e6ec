//! Request bodies: JSON objects only. serde would also read a struct from an array of its
//! fields in order (`[null, null]` for `{"a": null, "b": null}`), which the API document does
//! not describe and no client means.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON body that must be an object, read into `T`. Limits and unreadable JSON are the
/// JSON configuration's errors, as for `web::Json`.
#[derive(Debug)]
pub(crate) struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<Value>::from_request(request, payload);
        Box::pin(async move {
            let web::Json(value) = value.await?;
            if !value.is_object() {
                return Err(ApiError::invalid("body", "must be a JSON object").into());
            }
            // serde names the field in its message ("unknown field `x`", "missing field `y`").
            serde_json::from_value(value)
                .map(JsonObject)
                .map_err(|e| ApiError::invalid("body", e.to_string()).into())
        })
    }
}
