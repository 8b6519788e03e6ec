//! How hard the model works on each answer (the CLI's `--effort`).

use crate::string_enum::string_enum;

string_enum!(
    /// The effort level; higher spends more tokens on thinking.
    Effort("effort") {
        Low => "low",
        Medium => "medium",
        High => "high",
        XHigh => "xhigh",
        Max => "max",
    }
);
