//! `?limit=&offset=` in, `{items, total, limit, offset}` out.

use overseer_ports::{Page, PageRequest};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

impl PageQuery {
    /// # Errors
    /// An [`crate::error::ApiError`] for a limit over 100 or an offset past
    /// [`PageRequest::MAX_OFFSET`].
    pub fn to_request(self) -> Result<PageRequest, crate::error::ApiError> {
        let offset = self.offset.unwrap_or(0);
        if offset > PageRequest::MAX_OFFSET {
            return Err(crate::error::ApiError::invalid(
                "offset",
                format!("must be at most {}", PageRequest::MAX_OFFSET),
            ));
        }
        let limit = self.limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
        if limit == 0 || limit > PageRequest::MAX_LIMIT {
            return Err(crate::error::ApiError::invalid(
                "limit",
                format!("must be 1 to {}", PageRequest::MAX_LIMIT),
            ));
        }
        Ok(PageRequest::new(limit, offset))
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ListView<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

impl<T> ListView<T> {
    pub fn from_page<U>(page: Page<U>, request: PageRequest, view: impl Fn(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(view).collect(),
            total: page.total,
            limit: request.limit(),
            offset: request.offset(),
        }
    }
}
