//! Reports written from a session's record.

use time::OffsetDateTime;

use crate::ids::{ReportId, SessionId, UserId};
use crate::string_enum::string_enum;
use crate::validation::{check_text, validated_string};

string_enum!(
    /// The file format of a report.
    ReportFormat("report_format") {
        Markdown => "markdown",
        Html => "html",
        Json => "json",
        Pdf => "pdf",
    }
);

impl ReportFormat {
    /// The file extension, without the dot.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Html => "html",
            Self::Json => "json",
            Self::Pdf => "pdf",
        }
    }
}

validated_string!(
    /// A report title: 1 to 300 characters.
    ReportTitle,
    |value| check_text("title", value, 300)
);

/// A generated report file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub id: ReportId,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub title: ReportTitle,
    pub format: ReportFormat,
    /// Where the file lives, relative to the data directory.
    pub file_path: String,
    pub auto_generated: bool,
    pub created_at: OffsetDateTime,
}
