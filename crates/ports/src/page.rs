use overseer_domain::UserId;

/// Who is asking: a user sees only their own rows, an admin sees everyone's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only this user's rows.
    Owner(UserId),
    /// Every row.
    Admin,
}

impl Scope {
    /// Whether a row owned by `owner` is visible in this scope.
    #[must_use]
    pub fn permits(self, owner: UserId) -> bool {
        match self {
            Self::Owner(me) => me == owner,
            Self::Admin => true,
        }
    }
}

/// One page of a list: `limit` rows from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    limit: u32,
    offset: u64,
}

impl PageRequest {
    /// The largest page a caller may ask for.
    pub const MAX_LIMIT: u32 = 100;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 20;
    /// The largest offset a database takes (a signed 64-bit integer).
    pub const MAX_OFFSET: u64 = i64::MAX as u64;

    /// `limit` is clamped to `1..=MAX_LIMIT`, `offset` to `MAX_OFFSET`.
    #[must_use]
    pub fn new(limit: u32, offset: u64) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            offset: offset.min(Self::MAX_OFFSET),
        }
    }

    /// The first page of `limit` rows (clamped to 1 ..= `MAX_LIMIT`).
    #[must_use]
    pub fn first(limit: u32) -> Self {
        Self::new(limit, 0)
    }

    /// Rows per page.
    #[must_use]
    pub fn limit(self) -> u32 {
        self.limit
    }

    /// Rows skipped before this page.
    #[must_use]
    pub fn offset(self) -> u64 {
        self.offset
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(Self::DEFAULT_LIMIT)
    }
}

/// A page of rows and the total number of rows matching the query.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// This page's rows.
    pub items: Vec<T>,
    /// Rows in every page together.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped() {
        assert_eq!(PageRequest::new(0, 0).limit(), 1);
        assert_eq!(PageRequest::new(1000, 5).limit(), 100);
        assert_eq!(PageRequest::new(1000, 5).offset(), 5);
    }

    #[test]
    fn offset_stays_within_what_a_database_takes() {
        assert_eq!(PageRequest::new(10, u64::MAX).offset(), i64::MAX as u64);
    }
}
